import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hashForDiff,
  readHashBuffers,
  sameHash,
  startTraffic,
  type JobRef,
} from "../support/appTraffic.js";
import {
  cleanVerify,
  FLAG_OFF,
  FLAG_ON,
  newKey,
  oldKey,
  provenJobs,
  readArchiveFile,
  toolArgs,
} from "../support/cleanup.js";
import { checkpointProgress, waitFor } from "../support/checkpoint.js";
import { jsonOf, runCli, startCli, type CliResult } from "../support/cli.js";
import { tempFile } from "../support/divergences.js";
import { keysUnder, snapshotKeys, snapshotPrefix } from "../support/keys.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";

/** Remaining TTLs agree: both without one, or within a few seconds of each other. */
function expectSameTtl(a: number, b: number, what: string): void {
  if (a < 0 || b < 0) expect([a, b], what).toEqual([-1, -1]);
  else expect(Math.abs(a - b), what).toBeLessThan(5000);
}

describe.each(targets())("rollback of a cleanup on %s", (target: Target) => {
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

  const run = (p: string, subcommand: string, ...extra: string[]): Promise<CliResult> =>
    runCli(toolArgs(target, p, subcommand, ...extra));

  /** Every job's old key equals its new key, bytes and remaining TTL. */
  async function expectPairsEqual(p: string, jobs: JobRef[]): Promise<void> {
    for (const j of jobs) {
      const [o, n] = [
        await readHashBuffers(redis, oldKey(p, j)),
        await readHashBuffers(redis, newKey(p, j)),
      ];
      expect(o.size, j.job_id).toBeGreaterThan(0);
      if (!sameHash(o, n)) expect(hashForDiff(o), j.job_id).toEqual(hashForDiff(n));
      expectSameTtl(await redis.pttl(oldKey(p, j)), await redis.pttl(newKey(p, j)), j.job_id);
    }
  }

  it("cleanup stops with exit 5 while the application still writes old keys; backfill --reverse then makes every old key equal its new key again", async () => {
    const p = uniquePrefix("rollback-traffic");
    const jobs = await provenJobs(redis, target, p, 300);
    const traffic = startTraffic({
      redis: appRedis,
      oldPrefix: `${p}ai:jobs:`,
      newPrefix: `${p}ai:job:`,
      queueKey: `${p}ai:queue:pending`,
      flagOn: true, // update_status still writes the old key, then the new one
      // A tenth of the jobs get updates: cleanup deletes other old keys too before it
      // notices, so the rollback has old keys to rebuild as well as partial ones to repair.
      jobs: jobs.slice(0, 30),
      concurrency: 8,
      newJobsPerSecond: 20,
    });
    const args = ["--execute", "--batch-size", "10", "--rate", "300"];
    const r = await runCli(toolArgs(target, p, "cleanup", ...args), FLAG_ON);
    const stats = await traffic.stop();
    expect(stats.errors).toBe(0);
    expect(r.code, r.stderr).toBe(5);
    const lines = r.stderr.trim().split("\n");
    expect(lines[lines.length - 1]).toMatch(/^jobs-migrate: .*old-schema writes are still on/);
    const everyJob = [...jobs, ...stats.enqueued];
    const missing = [];
    for (const j of everyJob) if ((await redis.exists(oldKey(p, j))) === 0) missing.push(j);
    expect(missing.length).toBeGreaterThan(0);

    const reverse = await run(p, "backfill --reverse", "--json");
    expect(reverse.code, reverse.stderr).toBe(0);
    const c = jsonOf(reverse).counts;
    expect(c.rebuilt).toBeGreaterThanOrEqual(missing.length);
    expect(c.repairedPartial).toBeGreaterThan(0); // at least the key that gave it away
    expect(c.conflict ?? 0).toBe(0);
    expect((c.rebuilt ?? 0) + (c.repairedPartial ?? 0) + (c.alreadyPresent ?? 0)).toBe(
      everyJob.length,
    );
    await expectPairsEqual(p, everyJob);
  });

  it("after a rollback, cleanup run again deletes every old key, not only those its interrupted run had not reached", async () => {
    const p = uniquePrefix("roll-forward");
    await provenJobs(redis, target, p, 60);
    const args = ["--execute", "--batch-size", "2", "--rate", "60"];
    const first = startCli(toolArgs(target, p, "cleanup", ...args), FLAG_ON);
    const checkpoint = `${p}jm:cleanup:checkpoint`;
    await waitFor(
      "progress",
      async () => (await checkpointProgress(redis, checkpoint)).scanned >= 10,
    );
    first.child.kill("SIGINT");
    expect((await first.done).code).toBe(130);
    expect((await run(p, "backfill --reverse")).code).toBe(0);
    expect(await keysUnder(redis, `${p}ai:jobs:`)).toHaveLength(60);

    await cleanVerify(target, p);
    const again = await runCli(toolArgs(target, p, "cleanup", "--execute", "--json"), FLAG_ON);
    expect(again.code, again.stderr).toBe(0);
    expect(await keysUnder(redis, `${p}ai:jobs:`)).toEqual([]);
  });

  it("restore puts archived hashes back byte for byte with their TTL, skips keys that exist, and overwrites them with --overwrite", async () => {
    const p = uniquePrefix("restore");
    const jobs = await provenJobs(redis, target, p, 60);
    // One job also holds every byte value 0-255, in a field's name and in its value.
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const name = Buffer.concat([Buffer.from('f\x00\x01"\\/'), every.subarray(120, 140)]);
    for (const k of [oldKey(p, jobs[0]!), newKey(p, jobs[0]!)]) await redis.hset(k, name, every);
    // Two more with a zero byte (the script cannot hand those over joined: read back).
    for (const j of [jobs[7]!, jobs[31]!])
      for (const k of [oldKey(p, j), newKey(p, j)]) await redis.hset(k, "nul", `a\x00${j.job_id}`);
    const keys = jobs.map((j) => oldKey(p, j));
    const before = new Map<string, { fields: Map<string, Buffer>; pttl: number }>();
    for (const k of keys)
      before.set(k, { fields: await readHashBuffers(redis, k), pttl: await redis.pttl(k) });
    const archive = tempFile("archive.jsonl");
    const cleaned = await runCli(
      toolArgs(target, p, "cleanup", "--execute", "--archive", archive, "--json"),
      FLAG_ON,
    );
    expect(cleaned.code, cleaned.stderr).toBe(0);
    expect(jsonOf(cleaned).counts.deleted).toBe(60);
    expect(await keysUnder(redis, `${p}ai:jobs:`)).toEqual([]);

    const archived = readArchiveFile(archive);
    expect([...archived.keys()].sort()).toEqual([...keys].sort());
    for (const [k, a] of archived) {
      expect(a.display).toBe(k);
      expect(sameHash(a.fields, before.get(k)!.fields), k).toBe(true);
      expectSameTtl(a.pttlMs, before.get(k)!.pttl, k);
    }
    // seedOldJobs puts bytes that are not UTF-8 in every 3rd job's params.
    expect([...archived.values()].some((a) => a.fields.get("params")!.includes(0xff))).toBe(true);
    expect(archived.get(keys[0]!)!.fields.get(name.toString())).toEqual(every);

    const restored = await run(p, "restore", "--from", archive, "--json");
    expect(restored.code, restored.stderr).toBe(0);
    expect(jsonOf(restored).counts).toMatchObject({ restored: 60 });
    expect(jsonOf(restored).counts.skippedExisting ?? 0).toBe(0);
    for (const k of keys) {
      expect(sameHash(await readHashBuffers(redis, k), before.get(k)!.fields), k).toBe(true);
      expectSameTtl(await redis.pttl(k), before.get(k)!.pttl, k);
    }
    const snapshot = await snapshotPrefix(redis, `${p}ai:`);

    const again = await run(p, "restore", "--from", archive, "--json");
    expect(again.code, again.stderr).toBe(0);
    expect(jsonOf(again).counts).toMatchObject({ skippedExisting: 60 });
    expect(jsonOf(again).counts.restored ?? 0).toBe(0);
    expect(await snapshotPrefix(redis, `${p}ai:`)).toEqual(snapshot);

    await redis.hset(keys[0]!, "status", "tampered", "extra", "x");
    await redis.persist(keys[0]!);
    const forced = await run(p, "restore", "--from", archive, "--overwrite", "--json");
    expect(forced.code, forced.stderr).toBe(0);
    expect(jsonOf(forced).counts).toMatchObject({ restored: 60 });
    // Same bytes, same field order, same absolute expiry: the same serialized keys.
    expect(await snapshotPrefix(redis, `${p}ai:`)).toEqual(snapshot);
  });

  it("cleanup --side new (flag off, after a clean verify) deletes the new keys whose old key equals them, and nothing else", async () => {
    const p = uniquePrefix("side-new");
    const jobs = await provenJobs(redis, target, p, 40);
    await redis.hset(newKey(p, jobs[1]!), "status", "tampered");
    await redis.hset(oldKey(p, jobs[2]!), "note", "old only");
    await redis.del(newKey(p, jobs[3]!));
    await redis.hset(`${p}ai:jobs:bad-no-ws`, { job_id: "bad-no-ws", status: "pending" });
    await redis.hset(`${p}ai:job:ws-0:ghost`, { job_id: "ghost", workspace_id: "ws-0" });
    await redis.set(`${p}ai:job:config`, "{}");
    await redis.hset(`${p}ai:jobsx:1`, { job_id: "1", workspace_id: "ws-1" });
    const before = await snapshotPrefix(redis, `${p}ai:`);

    const wrongFlag = await runCli(
      toolArgs(target, p, "cleanup", "--side", "new", "--execute"),
      FLAG_ON,
    );
    expect(wrongFlag.code).toBe(5);
    expect(wrongFlag.stderr).toMatch(/cleanup refused: AI_JOBS_NEW_SCHEMA must be off/);
    const r = await runCli(
      toolArgs(target, p, "cleanup", "--side", "new", "--execute", "--json"),
      FLAG_OFF,
    );
    expect(r.code, r.stderr).toBe(1);
    const expected = { deleted: 37, differs: 2, newMissing: 1, unmigratable: 1 };
    expect(jsonOf(r).counts).toMatchObject(expected);
    const gone = new Set(jobs.filter((_, i) => i < 1 || i > 3).map((j) => newKey(p, j)));
    const survivors = new Map([...before].filter(([k]) => !gone.has(k)));
    expect(await snapshotPrefix(redis, `${p}ai:`)).toEqual(survivors);
  });

  it("backfill --reverse leaves and lists an old key that conflicts (exit 1), and creates no old key for a job that never had one unless --recreate-missing", async () => {
    const p = uniquePrefix("reverse");
    const jobs = await provenJobs(redis, target, p, 20);
    const cleaned = await runCli(toolArgs(target, p, "cleanup", "--execute"), FLAG_ON);
    expect(cleaned.code, cleaned.stderr).toBe(0);
    const ghost = { job_id: "ghost", workspace_id: "ws-0" };
    await redis.hset(newKey(p, ghost), { job_id: "ghost", workspace_id: "ws-0", status: "done" });
    // Someone wrote a whole, different job under a deleted old key: not ours to overwrite.
    await redis.hset(oldKey(p, jobs[0]!), { job_id: jobs[0]!.job_id, workspace_id: "ws-9" });
    const conflicting = await snapshotKeys(redis, [oldKey(p, jobs[0]!)]);

    const r = await run(p, "backfill --reverse", "--json");
    expect(r.code, r.stderr).toBe(1);
    expect(jsonOf(r).counts).toMatchObject({ rebuilt: 19, conflict: 1, neverHadOld: 1 });
    const listed = jsonOf(r).findings as { key: string; reason: string }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]!.key).toContain(jobs[0]!.job_id);
    expect(await snapshotKeys(redis, [oldKey(p, jobs[0]!)])).toEqual(conflicting);
    expect(await redis.exists(oldKey(p, ghost))).toBe(0);
    await expectPairsEqual(p, jobs.slice(1));

    const recreate = await run(p, "backfill --reverse", "--recreate-missing", "--json");
    expect(recreate.code, recreate.stderr).toBe(1);
    expect(jsonOf(recreate).counts).toMatchObject({ rebuilt: 1, alreadyPresent: 19, conflict: 1 });
    await expectPairsEqual(p, [ghost]);
  });
});
