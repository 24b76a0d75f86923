import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  readHashBuffers,
  sameHash,
  seedOldJobs,
  startTraffic,
  type JobRef,
} from "../support/appTraffic.js";
import { prefixArgs, runCli, jsonOf } from "../support/cli.js";
import { naiveCopy } from "../support/naiveCopy.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";

/** Pairs whose new key is not byte-for-byte the old key, once traffic has stopped. */
async function stalePairs(redis: RedisClient, p: string, jobs: JobRef[]): Promise<string[]> {
  const stale: string[] = [];
  for (const job of jobs) {
    const o = await readHashBuffers(redis, `${p}ai:jobs:${job.job_id}`);
    const n = await readHashBuffers(redis, `${p}ai:job:${job.workspace_id}:${job.job_id}`);
    if (!sameHash(o, n)) stale.push(job.job_id);
  }
  return stale;
}

describe.each(targets())("backfill beside live application traffic on %s", (target: Target) => {
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

  const trafficFor = (p: string, jobs: JobRef[]) =>
    startTraffic({
      redis: appRedis,
      oldPrefix: `${p}ai:jobs:`,
      newPrefix: `${p}ai:job:`,
      queueKey: `${p}ai:queue:pending`,
      flagOn: true,
      jobs,
      concurrency: 24,
      newJobsPerSecond: 50,
    });

  it("never leaves a stale copy: after traffic stops every new key equals its old key", async () => {
    const p = uniquePrefix("traffic");
    const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 600, workspaces: 5 });
    const traffic = trafficFor(p, jobs);
    // Small, rate-limited batches keep the run inside the traffic for a couple of seconds.
    const r = await runCli([
      "backfill",
      "--redis-url",
      target.url,
      ...prefixArgs(p),
      "--batch-size",
      "10",
      "--rate",
      "400",
      "--json",
    ]);
    const stats = await traffic.stop();
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(stats.errors).toBe(0);
    expect(stats.updates).toBeGreaterThan(500);
    expect(jsonOf(r).counts.copied).toBeGreaterThan(0);
    expect(await stalePairs(redis, p, [...jobs, ...stats.enqueued])).toEqual([]);
  });

  it("a naive read-then-write copy under the same traffic does leave stale copies", async () => {
    const p = uniquePrefix("naive");
    const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 600, workspaces: 5 });
    const traffic = trafficFor(p, jobs);
    await naiveCopy(redis, `${p}ai:jobs:`, `${p}ai:job:`, 25);
    const stats = await traffic.stop();
    expect(stats.errors).toBe(0);
    const st = await stalePairs(redis, p, jobs);
    expect(st.length).toBeGreaterThan(0);
  });
});
