import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonOf, prefixArgs, runCli } from "../support/cli.js";
import { readHashBuffers, sameHash, seedOldJobs } from "../support/appTraffic.js";
import { keysUnder, snapshotKeys } from "../support/keys.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";

describe.each(targets())("backfill on %s", (target: Target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it("copies every old job byte for byte with its TTL, and exits 0 when all are copied", async () => {
    const p = uniquePrefix("copy");
    const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 300, workspaces: 7 });
    const r = await runCli([
      "backfill",
      "--redis-url",
      target.url,
      ...prefixArgs(p),
      "--batch-size",
      "37",
      "--json",
    ]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const result = jsonOf(r);
    expect(result.counts.copied).toBe(300);
    expect(result.clean).toBe(true);
    expect(result.mode).toBe(target.cluster ? "copy-then-confirm" : "atomic");
    for (const job of jobs) {
      const oldKey = `${p}ai:jobs:${job.job_id}`;
      const newKey = `${p}ai:job:${job.workspace_id}:${job.job_id}`;
      const [o, n] = [await readHashBuffers(redis, oldKey), await readHashBuffers(redis, newKey)];
      expect(o.size).toBeGreaterThan(0);
      expect(sameHash(o, n), newKey).toBe(true);
      const [oldTtl, newTtl] = [await redis.pttl(oldKey), await redis.pttl(newKey)];
      if (oldTtl < 0) expect(newTtl).toBe(-1);
      else expect(Math.abs(newTtl - oldTtl)).toBeLessThan(5000);
    }
    expect(jobs.some((j) => j.job_id)).toBe(true);
    // Every 3rd seeded job carries bytes that are not UTF-8: they survived the copy.
    const binary = await redis.hgetBuffer(
      `${p}ai:job:${jobs[0]!.workspace_id}:${jobs[0]!.job_id}`,
      "params",
    );
    expect(binary?.includes(0xff)).toBe(true);
    expect(await keysUnder(redis, `${p}ai:job:`)).toHaveLength(300);
  });

  it("copies a job too big for one short command whole, and counts and lists it as oversized with its size", async () => {
    const p = uniquePrefix("oversized");
    const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 60, workspaces: 3 });
    const big = jobs.slice(0, 2);
    for (const j of big)
      await redis.hset(`${p}ai:jobs:${j.job_id}`, "params", "x".repeat(1_500_000));
    // A budget of 0.1 ms: copying (or dumping) 1.5 MB takes longer than that, a job hash not.
    const r = await runCli([
      "backfill",
      "--redis-url",
      target.url,
      ...prefixArgs(p),
      "--max-command-ms",
      "0.1",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = jsonOf(r) as ReturnType<typeof jsonOf> & {
      findings: { key: string; reason: string; detail?: string }[];
    };
    expect(result.counts.copied).toBe(60);
    expect(result.counts.oversized).toBe(2);
    const listed = result.findings.filter((f) => f.reason === "oversized");
    expect(listed.map((f) => f.key).sort()).toEqual(
      big.map((j) => `${p}ai:jobs:${j.job_id}`).sort(),
    );
    for (const f of listed) expect(f.detail).toMatch(/^1[5-9]\d{5} bytes: copied in one command/);
    for (const j of big) {
      const newKey = `${p}ai:job:${j.workspace_id}:${j.job_id}`;
      expect(await redis.hstrlen(newKey, "params")).toBe(1_500_000);
    }
  });

  it("running it again changes nothing and counts every job as already present", async () => {
    const p = uniquePrefix("again");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 120, workspaces: 3 });
    expect((await runCli(["backfill", "--redis-url", target.url, ...prefixArgs(p)])).code).toBe(0);
    const before = await snapshotKeys(redis, await keysUnder(redis, `${p}ai:job:`));
    const second = await runCli([
      "backfill",
      "--redis-url",
      target.url,
      ...prefixArgs(p),
      "--json",
    ]);
    expect(second.code).toBe(0);
    expect(jsonOf(second).counts.alreadyPresent).toBe(120);
    expect(jsonOf(second).counts.copied ?? 0).toBe(0);
    expect(await snapshotKeys(redis, await keysUnder(redis, `${p}ai:job:`))).toEqual(before);
  });

  it("skips, counts and lists malformed keys, never copies them, and leaves them and foreign keys byte-identical", async () => {
    const p = uniquePrefix("malformed");
    const old = `${p}ai:jobs:`;
    await seedOldJobs(redis, { oldPrefix: old, count: 20, workspaces: 2 });
    const malformed: Record<string, string> = {
      [`${old}no-ws`]: "missing_workspace_id",
      [`${old}upper-ws`]: "invalid_workspace_id",
      [`${old}newline-ws`]: "invalid_workspace_id",
      [`${old}long-ws`]: "invalid_workspace_id",
      [`${old}empty-ws`]: "invalid_workspace_id",
      [`${old}mismatch`]: "job_id_mismatch",
      [`${old}no-job-id`]: "missing_job_id",
      [`${old}partial`]: "partial_hash",
      [`${old}a-string`]: "not_a_hash",
      [`${old}a-list`]: "not_a_hash",
    };
    await redis.hset(`${old}no-ws`, { job_id: "no-ws", status: "completed" });
    await redis.hset(`${old}upper-ws`, { job_id: "upper-ws", workspace_id: "WS-1" });
    await redis.hset(`${old}newline-ws`, { job_id: "newline-ws", workspace_id: "ws-1\n" });
    await redis.hset(`${old}long-ws`, { job_id: "long-ws", workspace_id: "w".repeat(33) });
    await redis.hset(`${old}empty-ws`, { job_id: "empty-ws", workspace_id: "" });
    await redis.hset(`${old}mismatch`, { job_id: "other", workspace_id: "ws-1" });
    await redis.hset(`${old}no-job-id`, { workspace_id: "ws-1", status: "pending" });
    await redis.hset(`${old}partial`, { status: "completed", finished_at: "1735689612000" });
    await redis.set(`${old}a-string`, "ws-1");
    await redis.rpush(`${old}a-list`, "x");
    const foreign = [
      `${p}ai:jobsx:1`,
      `${p}ai:queue:pending`,
      `${p}ai:job:config`,
      `${p}ai:idempotency:ws-1:r1`,
    ];
    await redis.hset(foreign[0]!, { job_id: "1", workspace_id: "ws-1" });
    await redis.rpush(foreign[1]!, "job-1");
    await redis.set(foreign[2]!, "{}");
    await redis.set(foreign[3]!, "job-1");
    const before = await snapshotKeys(redis, [...Object.keys(malformed), ...foreign]);

    const r = await runCli(["backfill", "--redis-url", target.url, ...prefixArgs(p), "--json"]);
    expect(r.code).toBe(1);
    const result = jsonOf(r);
    expect(result.counts.copied).toBe(20);
    expect(result.counts.unmigratable).toBe(10);
    expect(result.counts["unmigratable.invalid_workspace_id"]).toBe(4);
    const listed = Object.fromEntries(
      (result.findings as { key: string; reason: string }[]).map((f) => [f.key, f.reason]),
    );
    expect(listed).toEqual(malformed);
    expect(await snapshotKeys(redis, [...Object.keys(malformed), ...foreign])).toEqual(before);
    const created = await keysUnder(redis, `${p}ai:job:`);
    expect(created.filter((k) => k !== `${p}ai:job:config`)).toHaveLength(20);
    expect(
      created.some(
        (k) => k.includes("::") || /no-ws|mismatch|other|upper|newline|long|empty|partial/.test(k),
      ),
    ).toBe(false);

    const human = await runCli(["backfill", "--redis-url", target.url, ...prefixArgs(p)]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`${old}no-ws  missing_workspace_id`);
    expect(human.stdout).toMatch(/unmigratable\s+10/);
    expect(human.stdout).toContain("1 partial old hash(es) (a status, no workspace_id nor job_id)");
  });
});

// Logical databases exist only on a single instance (a Cluster has database 0 alone).
describe("backfill on a single instance with several databases", () => {
  it("never touches another logical database", async () => {
    const target = targets().find((t) => !t.cluster)!;
    const redis = connect(target);
    const p = uniquePrefix("db");
    const other = connect({ ...target, url: `${target.url}/3` });
    await other.hset(`${p}ai:jobs:j1`, { job_id: "j1", workspace_id: "ws-1" });
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 5, workspaces: 1 });
    expect((await runCli(["backfill", "--redis-url", target.url, ...prefixArgs(p)])).code).toBe(0);
    expect(await keysUnder(other, p)).toEqual([`${p}ai:jobs:j1`]);
    await other.quit();
    await redis.quit();
  });
});
