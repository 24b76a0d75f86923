/**
 * A keyspace that looks like production (issue 12): other data lives under the new prefix,
 * and a rollout that succeeded stays green. Foreign keys under the new prefix are counted
 * and listed, never called orphans; after cleanup, new keys without an old key are what
 * cleanup left on purpose, and a real problem still turns verify red. Both topologies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FLAG_ON, cleanVerify, provenJobs, toolArgs } from "../support/cleanup.js";
import { jsonOf, runCli } from "../support/cli.js";
import { backfilledJobs, newKeyOf, oldKeyOf, verifyArgs } from "../support/divergences.js";
import { connect, targets, uniquePrefix, type RedisClient } from "../support/targets.js";

describe.each(targets())("a real keyspace on %s", (target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(() => {
    redis.disconnect();
  });

  /** Other code's data under the new prefix, by the reason verify must give. */
  async function plantForeign(p: string): Promise<Record<string, string>> {
    const k = (rest: string) => `${p}ai:job:${rest}`;
    await redis.hset(k("reports:daily"), { generated: "2026-12-01", rows: "42" });
    await redis.hset(k("ws-1:not-this-one"), { job_id: "another", workspace_id: "ws-1" });
    await redis.hset(k("ws-9:misfiled"), { job_id: "misfiled", workspace_id: "ws-2" });
    await redis.set(k("ws-2:counter"), "17");
    await redis.rpush(k("ws-2:queue"), "a", "b");
    await redis.hset(k("config"), { retries: "3" });
    return {
      [k("reports:daily")]: "no_job_id",
      [k("ws-1:not-this-one")]: "fields_do_not_match_name",
      [k("ws-9:misfiled")]: "fields_do_not_match_name",
      [k("ws-2:counter")]: "not_a_hash",
      [k("ws-2:queue")]: "not_a_hash",
      [k("config")]: "name_not_a_job_key",
    };
  }

  const foreignOf = (r: Awaited<ReturnType<typeof runCli>>) =>
    Object.fromEntries(
      (jsonOf(r).foreign as { key: string; reason: string }[]).map((f) => [f.key, f.reason]),
    );

  it("foreign keys under the new prefix are listed by reason, not orphans: verify is clean", async () => {
    const p = uniquePrefix("foreign");
    await backfilledJobs(redis, target, p, 200);
    const planted = await plantForeign(p);
    const r = await runCli(verifyArgs(target, p, "--json"));
    expect(r.code, r.stderr).toBe(0);
    const result = jsonOf(r);
    expect(result.clean).toBe(true);
    expect(result.counts.orphans ?? 0).toBe(0);
    expect(result.counts.newForeign).toBe(6);
    expect(result.counts["newForeign.not_a_hash"]).toBe(2);
    expect(foreignOf(r)).toEqual(planted);
    // Nothing of theirs was touched.
    expect(await redis.hgetall(`${p}ai:job:reports:daily`)).toEqual({
      generated: "2026-12-01",
      rows: "42",
    });
    // A real orphan (a job record with no old key) is still one.
    const ghost = { job_id: "ghost-1", workspace_id: "ws-0" };
    await redis.hset(newKeyOf(p, ghost), ghost);
    const red = await runCli(verifyArgs(target, p, "--json"));
    expect(red.code, red.stderr).toBe(1);
    expect(jsonOf(red).counts.orphans).toBe(1);
    expect(jsonOf(red).counts.newForeign).toBe(6);
  });

  it("after cleanup --execute, verify is clean and flag agrees; a diverging leftover turns it red", async () => {
    const p = uniquePrefix("after-cleanup");
    const jobs = await provenJobs(redis, target, p, 300);
    await plantForeign(p);
    await cleanVerify(target, p);
    const cleanup = await runCli(toolArgs(target, p, "cleanup", "--execute", "--json"), FLAG_ON);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(jsonOf(cleanup).counts.deleted).toBe(300);

    const after = await runCli(verifyArgs(target, p, "--json"));
    expect(after.code, after.stderr).toBe(0);
    expect(jsonOf(after).clean).toBe(true);
    expect(jsonOf(after).counts.newOnly).toBe(300);
    expect(jsonOf(after).counts.orphans ?? 0).toBe(0);
    const flag = await runCli(toolArgs(target, p, "flag", "--count", "--json"), FLAG_ON);
    expect(flag.code, flag.stderr).toBe(0);
    expect(jsonOf(flag).phase).toBe("done");

    // Old-schema code writes an old key back with other content: a real divergence.
    const j = jobs[5]!;
    await redis.hset(oldKeyOf(p, j.job_id), {
      job_id: j.job_id,
      workspace_id: j.workspace_id,
      status: "resurrected",
    });
    const red = await runCli(verifyArgs(target, p, "--json"));
    expect(red.code, red.stderr).toBe(1);
    expect(jsonOf(red).clean).toBe(false);
  });
});
