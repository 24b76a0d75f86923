import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readHashBuffers, sameHash, seedOldJobs } from "../support/appTraffic.js";
import { checkpointProgress, killMidRun, waitFor } from "../support/checkpoint.js";
import { jsonOf, prefixArgs, runCli, startCli } from "../support/cli.js";
import { keysUnder } from "../support/keys.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";

describe.each(targets())("resumable, locked runs on %s", (target: Target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it("after kill -9 mid-run, the next run resumes from the checkpoint and ends as an uninterrupted run would", async () => {
    const p = uniquePrefix("kill9");
    const jobs = await seedOldJobs(redis, {
      oldPrefix: `${p}ai:jobs:`,
      count: 2000,
      workspaces: 4,
    });
    const args = ["backfill", "--redis-url", target.url, ...prefixArgs(p), "--batch-size", "20"];
    const first = startCli([...args, "--rate", "800"]);
    const checkpointKey = `${p}jm:backfill:checkpoint`;
    const saved = await killMidRun(redis, first, checkpointKey, 300);
    expect(saved.scanned).toBeLessThan(2000);
    expect(await redis.exists(`${p}jm:backfill:lock`)).toBe(1); // the dead run's lock

    const second = await runCli([...args, "--json"]);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/took over the lock of a dead run: pid \d+/);
    expect(second.stderr).toContain(`(${saved.scanned} keys already done)`);
    const result = jsonOf(second);
    expect(result.resumed).toBe(true);
    // The second run did not start from zero: it scanned only what was left (SCAN may
    // return a key twice, and the half-done batch is redone, so allow a little more).
    expect((result.counts.scanned ?? 0) - saved.scanned).toBeLessThan(2000 - saved.scanned + 200);
    expect(
      (result.counts.copied ?? 0) + (result.counts.alreadyPresent ?? 0),
    ).toBeGreaterThanOrEqual(2000);
    // The same end state as an uninterrupted run: every job copied exactly, nothing else.
    const expected = jobs.map((j) => `${p}ai:job:${j.workspace_id}:${j.job_id}`).sort();
    expect(await keysUnder(redis, `${p}ai:job:`)).toEqual(expected);
    for (const j of jobs) {
      const o = await readHashBuffers(redis, `${p}ai:jobs:${j.job_id}`);
      const n = await readHashBuffers(redis, `${p}ai:job:${j.workspace_id}:${j.job_id}`);
      expect(sameHash(o, n)).toBe(true);
    }
    expect(await redis.exists(`${p}jm:backfill:lock`)).toBe(0);
  });

  it("a second run at once exits 4 naming the first; SIGINT saves the checkpoint and exits 130; the next run resumes", async () => {
    const p = uniquePrefix("lock");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 1000, workspaces: 2 });
    const args = ["backfill", "--redis-url", target.url, ...prefixArgs(p), "--batch-size", "20"];
    const first = startCli([...args, "--rate", "300"]);
    await waitFor(
      "the first run's lock",
      async () => (await redis.exists(`${p}jm:backfill:lock`)) === 1,
    );

    const second = await runCli(args);
    expect(second.code).toBe(4);
    expect(second.stderr.trim().split("\n")).toHaveLength(1);
    expect(second.stderr).toContain(
      `another backfill run holds the lock: pid ${first.child.pid} on `,
    );

    await waitFor(
      "progress",
      async () => (await checkpointProgress(redis, `${p}jm:backfill:checkpoint`)).scanned > 0,
    );
    first.child.kill("SIGINT");
    const interrupted = await first.done;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toMatch(/interrupted: checkpoint saved after \d+ keys/);
    const saved = await checkpointProgress(redis, `${p}jm:backfill:checkpoint`);
    expect(saved.status).toBe("interrupted");
    expect(await redis.exists(`${p}jm:backfill:lock`)).toBe(0);

    const third = await runCli([...args, "--json"]);
    expect(third.code).toBe(0);
    expect(jsonOf(third).resumed).toBe(true);
    expect(third.stderr).not.toMatch(/took over/);
  });

  it("a lock held by a live run on another host is respected until it expires", async () => {
    const p = uniquePrefix("foreign-lock");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 10, workspaces: 1 });
    const holder = {
      runId: "remote01",
      host: "other-host",
      pid: 4242,
      since: "2026-01-01T00:00:00Z",
    };
    await redis.set(`${p}jm:backfill:lock`, JSON.stringify(holder), "PX", 1500);
    const refused = await runCli(["backfill", "--redis-url", target.url, ...prefixArgs(p)]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(
      "pid 4242 on other-host since 2026-01-01T00:00:00Z (run remote01)",
    );
    expect(await keysUnder(redis, `${p}ai:job:`)).toEqual([]);
    await waitFor(
      "the lock to expire",
      async () => (await redis.exists(`${p}jm:backfill:lock`)) === 0,
    );
    expect((await runCli(["backfill", "--redis-url", target.url, ...prefixArgs(p)])).code).toBe(0);
  });
});
