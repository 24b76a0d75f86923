import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTraffic, type JobRef } from "../support/appTraffic.js";
import { checkpointProgress, killMidRun, waitFor } from "../support/checkpoint.js";
import { jsonOf, runCli, startCli } from "../support/cli.js";
import {
  backfilledJobs,
  identifyAll,
  masterOf,
  newKeyOf,
  oldKeyOf,
  plantEveryKind,
  readReport,
  tempFile,
  verifyArgs,
  type Planted,
  type Reported,
} from "../support/divergences.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";

describe.each(targets())("verify of a live keyspace on %s", (target: Target) => {
  let redis: RedisClient;
  let appRedis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
    appRedis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
    await appRedis.quit();
  });

  const backfilled = (p: string, count: number) => backfilledJobs(redis, target, p, count);

  /** Break a job's new key: its status no longer matches the old key's. */
  async function tamper(p: string, job: JobRef): Promise<Planted> {
    await redis.hset(newKeyOf(p, job), "status", "tampered");
    const fields = { differs: ["status"], missing: [], extra: [] };
    return {
      oldKey: oldKeyOf(p, job.job_id),
      newKey: newKeyOf(p, job),
      kinds: ["field_differs"],
      fields,
    };
  }

  it("under live application traffic confirms nothing; pairs caught between the app's two writes are counted transient", async () => {
    const p = uniquePrefix("verify-traffic");
    const jobs = await backfilled(p, 300);
    const traffic = startTraffic({
      redis: appRedis,
      oldPrefix: `${p}ai:jobs:`,
      newPrefix: `${p}ai:job:`,
      queueKey: `${p}ai:queue:pending`,
      flagOn: true,
      jobs,
      concurrency: 24,
      newJobsPerSecond: 50,
    });
    const report = tempFile("report.jsonl");
    // Small, rate-limited batches keep the run inside the traffic for a couple of seconds.
    const args = ["--batch-size", "10", "--rate", "300", "--recheck-delay", "100"];
    const r = await runCli(verifyArgs(target, p, ...args, "--report", report, "--json"));
    const stats = await traffic.stop();
    expect(r.stderr).not.toMatch(/error/i);
    expect(stats.errors).toBe(0);
    expect(stats.updates).toBeGreaterThan(500);
    expect(r.code).toBe(0);
    const result = jsonOf(r);
    expect(result.clean).toBe(true);
    expect(result.counts.confirmed).toBeUndefined();
    expect(result.counts.checked).toBeGreaterThanOrEqual(300);

    // Every transient pair is in the report, and the report holds nothing else.
    const records = readReport(report);
    const transient = result.counts.transient ?? 0;
    expect(records.map((d) => d.status)).toEqual(Array(transient).fill("transient"));
    const byKind = Object.entries(result.counts).filter(([k]) => k.startsWith("transient."));
    for (const [kind, n] of byKind) {
      expect(n, kind).toBeLessThanOrEqual(transient);
      expect(records.filter((d) => d.kinds.includes(kind.slice(10)))).toHaveLength(n);
    }
    // The app's update_status writes the old key, then the new key, in separate commands
    // (on a Cluster verify also reads them one after the other): with ~24 jobs always
    // mid-update, some pairs are caught in between, on both topologies (10-20 per run).
    expect(transient).toBeGreaterThan(0);

    const after = await runCli(verifyArgs(target, p, "--json"));
    expect(after.code).toBe(0);
    expect(jsonOf(after).counts.equal).toBe(jsonOf(after).counts.checked);
  });

  it("after kill -9 mid-run, the next verify resumes from the checkpoint and reports what an uninterrupted run reports", async () => {
    const p = uniquePrefix("verify-kill9");
    const jobs = await backfilled(p, 2000);
    const planted = await plantEveryKind(redis, p, jobs);
    const args = verifyArgs(target, p, "--batch-size", "20");
    const first = startCli([...args, "--rate", "800"]);
    const checkpointKey = `${p}jm:verify:checkpoint`;
    const saved = await killMidRun(redis, first, checkpointKey, 300);
    expect(saved.scanned).toBeLessThan(2000);

    const resumed = await runCli([...args, "--json"]);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(/took over the lock of a dead run: pid \d+/);
    expect(resumed.stderr).toContain(`(${saved.scanned} keys already done)`);
    const result = jsonOf(resumed);
    expect(result.resumed).toBe(true);
    const fresh = jsonOf(await runCli([...args, "--json"]));
    expect(fresh.resumed).toBe(false);
    for (const r of [result, fresh]) {
      expect(identifyAll(r.divergences as Reported[])).toEqual(identifyAll(planted.divergences));
      expect(r.counts.confirmed).toBe(planted.divergences.length);
      expect(r.counts.checked).toBe(1999);
    }
    expect(await redis.exists(`${p}jm:verify:lock`)).toBe(0);
  });

  it("a second verify of the same scope exits 4 naming the first; another scope runs beside it; SIGINT exits 130", async () => {
    const p = uniquePrefix("verify-lock");
    await backfilled(p, 1000);
    const args = verifyArgs(target, p, "--batch-size", "20");
    const first = startCli([...args, "--rate", "300"]);
    await waitFor(
      "the first run's lock",
      async () => (await redis.exists(`${p}jm:verify:lock`)) === 1,
    );

    const second = await runCli(args);
    expect(second.code).toBe(4);
    expect(second.stderr.trim().split("\n")).toHaveLength(1);
    expect(second.stderr).toContain(
      `another verify run holds the lock: pid ${first.child.pid} on `,
    );
    const canary = await runCli(verifyArgs(target, p, "--workspace", "ws-1", "--json"));
    expect(canary.code, canary.stderr).toBe(0);
    expect(jsonOf(canary).counts.checked).toBe(250);

    first.child.kill("SIGINT");
    const interrupted = await first.done;
    expect(interrupted.code).toBe(130);
    expect((await checkpointProgress(redis, `${p}jm:verify:checkpoint`)).status).toBe(
      "interrupted",
    );
    const third = await runCli([...args, "--json"]);
    expect(third.code).toBe(0);
    expect(jsonOf(third)).toMatchObject({ resumed: true, clean: true });
  });

  it("--sample 0.2 checks about a fifth of the pairs, spread evenly over the keyspace and every master", async () => {
    const p = uniquePrefix("verify-sample");
    const jobs = await backfilled(p, 1000);
    // Every pair diverges: the divergences listed are exactly the pairs the sample checked.
    const planted = await Promise.all(jobs.map((j) => tamper(p, j)));
    const r = await runCli(verifyArgs(target, p, "--sample", "0.2", "--json"));
    expect(r.code, r.stderr).toBe(1);
    const result = jsonOf(r);
    expect(result).toMatchObject({ scope: "sample=0.2", sampleFraction: 0.2 });
    const { checked, newChecked, outOfSample } = result.counts;
    expect(checked).toBeGreaterThanOrEqual(100);
    expect(checked).toBeLessThanOrEqual(350);
    // Every pair and every new key is either checked or counted out of the sample.
    expect(checked! + newChecked! + outOfSample!).toBe(2000);

    const reported = result.divergences as Reported[];
    const known = new Set(identifyAll(planted));
    expect(identifyAll(reported).filter((d) => !known.has(d))).toEqual([]);
    expect(reported).toHaveLength(checked!);
    expect(result.counts.confirmed).toBe(checked);
    const masters = new Set(reported.map((d) => masterOf(redis, d.oldKey)));
    expect(masters.size).toBe(target.cluster ? 3 : 1);
    // Neighbouring ids are sampled independently. Of the 100 runs of ten ids (job-10…19,
    // …), about 11 are wholly in or out (0.8^10 + 0.2^10), not most; and each quarter of the
    // ids holds about a quarter of the sample (within 4 standard deviations).
    const ids = reported.map((d) => Number(/job-(\d+)$/.exec(d.oldKey)![1]));
    const perTen = Array.from({ length: 100 }, (_, t) =>
      ids.filter((i) => i >= t * 10 && i < t * 10 + 10),
    );
    const uniform = perTen.filter((run) => run.length === 0 || run.length === 10).length;
    expect(uniform, "runs of ten ids wholly in or out of the sample").toBeLessThan(30);
    const quarters = [0, 1, 2, 3].map((q) => ids.filter((i) => Math.floor(i / 250) === q).length);
    for (const q of quarters) expect(Math.abs(q - checked! / 4), `${quarters}`).toBeLessThan(25);
    expect(await redis.exists(`${p}jm:verify:sample=0.2:last`)).toBe(1);
  });

  it("--workspace ws-1 checks and reports only ws-1 pairs and orphans; the rest is counted out of scope", async () => {
    const p = uniquePrefix("verify-ws");
    const jobs = await backfilled(p, 400);
    const inWs = (ws: string) => jobs.filter((j) => j.workspace_id === ws).slice(0, 3);
    const ws1 = await Promise.all(inWs("ws-1").map((j) => tamper(p, j)));
    await Promise.all(inWs("ws-2").map((j) => tamper(p, j)));
    // Orphans under ws-1 and ws-2: a job with no old key, and a job of the other workspace.
    const orphan = (job_id: string, workspace_id: string): Planted => ({
      oldKey: oldKeyOf(p, job_id),
      newKey: newKeyOf(p, { job_id, workspace_id }),
      kinds: ["orphan"],
    });
    const orphans = [orphan("ghost", "ws-1"), orphan("job-2", "ws-1")];
    // Job records (job_id and workspace_id as their names say): anything else is foreign.
    for (const o of [...orphans, orphan("ghost", "ws-2"), orphan("job-1", "ws-2")])
      await redis.hset(o.newKey, {
        job_id: o.oldKey.slice(o.oldKey.lastIndexOf(":") + 1),
        workspace_id: o.newKey.split(":").at(-2)!,
      });

    const r = await runCli(verifyArgs(target, p, "--workspace", "ws-1", "--json"));
    expect(r.code, r.stderr).toBe(1);
    const result = jsonOf(r);
    expect(result.scope).toBe("workspaces=ws-1");
    expect(identifyAll(result.divergences as Reported[])).toEqual(
      identifyAll([...ws1, ...orphans]),
    );
    expect(result.counts).toMatchObject({ checked: 100, outOfScope: 300, orphans: 2 });
    expect(result.counts.confirmed).toBe(5);
    const last = JSON.parse((await redis.get(`${p}jm:verify:workspaces=ws-1:last`)) ?? "{}");
    expect(last).toMatchObject({ runId: result.runId, scope: "workspaces=ws-1", clean: false });
    expect(await redis.exists(`${p}jm:verify:last`)).toBe(0);
  });
});
