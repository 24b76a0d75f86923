/**
 * Issue 12: a real keyspace reaches "done". Legacy old keys that cannot migrate and other
 * code's data under the new prefix are accepted once (`jobs-migrate accept`), with who,
 * when, why and a digest; from then on backfill, verify, the gates and the nightly verify
 * go green without --override-guard, and any new leftover or divergence turns them red again.
 * Both topologies.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FLAG_ON, toolArgs } from "../support/cleanup.js";
import { jsonOf, runCli, type CliResult } from "../support/cli.js";
import { newKeyOf, oldKeyOf, tempFile, verifyArgs } from "../support/divergences.js";
import { seedOldJobs } from "../support/jobHashes.js";
import { connect, targets, uniquePrefix, type RedisClient } from "../support/targets.js";

describe.each(targets())("accepted leftovers on %s", (target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(() => {
    redis.disconnect();
  });

  // The flag is left unset (neither on nor off) but where a step needs it on.
  const cli = (p: string, args: string, ...extra: string[]) =>
    runCli(toolArgs(target, p, args, ...extra));
  const gate = async (p: string, name: string, flagOn = false) => {
    const args = toolArgs(target, p, "flag", "--count", "--json", "--require", name);
    const r = await runCli(args, flagOn ? FLAG_ON : {});
    const j = jsonOf(r) as unknown as {
      gate: { met: boolean; unmet: string[] };
      next: { safe: boolean };
    };
    return { code: r.code, met: j.gate.met, unmet: j.gate.unmet, next: j.next, json: jsonOf(r) };
  };
  const expectCode = (r: CliResult, code: number) => expect(r.code, r.stderr).toBe(code);

  it("legacy junk accepted once: backfill, verify, gates, cleanup and the nightly go green; a new leftover or divergence turns them red", async () => {
    const p = uniquePrefix("accept");
    const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 120, workspaces: 3 });
    // Legacy old keys that cannot migrate.
    await redis.hset(oldKeyOf(p, "legacy-1"), { job_id: "legacy-1", status: "done" });
    await redis.hset(oldKeyOf(p, "legacy-2"), { job_id: "other", workspace_id: "ws-0" });
    await redis.set(oldKeyOf(p, "legacy-3"), "a string");
    // Other code's data under the new prefix.
    await redis.hset(`${p}ai:job:reports:daily`, { generated: "2026-12-01", rows: "42" });
    await redis.hset(`${p}ai:job:ws-1:not-this-one`, { job_id: "another", workspace_id: "ws-1" });
    await redis.set(`${p}ai:job:ws-2:counter`, "17");
    await redis.rpush(`${p}ai:job:ws-2:queue`, "a");

    // Before any acceptance: red everywhere, and the next step says why.
    expectCode(await cli(p, "backfill"), 1);
    const red = await runCli(verifyArgs(target, p, "--json"));
    expectCode(red, 1);
    expect(jsonOf(red).counts.unmigratable).toBe(3);
    expect(jsonOf(red).counts.newForeign).toBe(4);
    const blocked = await gate(p, "verified");
    expect(blocked.code).toBe(1);
    expect(blocked.unmet.join("\n")).toMatch(/3 unmigratable old key\(s\) not accepted/);
    expect(blocked.json.phase).toBe("verified");
    // The next step (flip reads) needs ready-for-read-flip, which is unmet: not safe.
    expect(blocked.next.safe).toBe(false);

    // accept needs a reason; then it records exactly the 7 leftovers, with a digest.
    expectCode(await cli(p, "accept", "--from-last", "verify"), 2);
    const accepted = await runCli(
      toolArgs(
        target,
        p,
        "accept",
        "--from-last",
        "verify",
        "--reason",
        "legacy, JIRA-1",
        "--json",
      ),
      { env: { JOBS_MIGRATE_ACTOR: "sre-alice" } },
    );
    expectCode(accepted, 0);
    expect(jsonOf(accepted)).toMatchObject({
      count: 7,
      unmigratable: 3,
      foreign: 4,
      who: "sre-alice",
      reason: "legacy, JIRA-1",
    });
    expect(String(jsonOf(accepted).digest)).toMatch(/^sha256:[0-9a-f]{64}$/);
    const listed = jsonOf(await cli(p, "accept", "--list", "--json")) as unknown as {
      accepted: { kind: string; reason: string; key: string }[];
      audit: { action: string; who: string }[];
    };
    expect(listed.accepted.map((a) => `${a.kind} ${a.reason} ${a.key}`).sort()).toEqual(
      [
        `unmigratable missing_workspace_id ${oldKeyOf(p, "legacy-1")}`,
        `unmigratable job_id_mismatch ${oldKeyOf(p, "legacy-2")}`,
        `unmigratable not_a_hash ${oldKeyOf(p, "legacy-3")}`,
        `foreign no_job_id ${p}ai:job:reports:daily`,
        `foreign fields_do_not_match_name ${p}ai:job:ws-1:not-this-one`,
        `foreign not_a_hash ${p}ai:job:ws-2:counter`,
        `foreign not_a_hash ${p}ai:job:ws-2:queue`,
      ].sort(),
    );
    expect(listed.audit[0]).toMatchObject({ action: "accept", who: "sre-alice" });
    const file = tempFile("leftovers.jsonl");
    expectCode(await cli(p, "accept", "--export", file), 0);
    const exported = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(exported).toHaveLength(7);
    expect(exported.every((e: { accepted: boolean }) => e.accepted)).toBe(true);

    // Green: the gates and the next step agree, verify exits 0 and still lists them.
    const gates = await gate(p, "ready-for-read-flip");
    expect(gates.unmet).toEqual([]);
    expect(gates.next.safe).toBe(true);
    const green = await runCli(verifyArgs(target, p, "--json"));
    expectCode(green, 0);
    expect(jsonOf(green).counts.unmigratableAccepted).toBe(3);
    expect(jsonOf(green).counts.foreignAccepted).toBe(4);
    const text = await runCli(verifyArgs(target, p));
    expect(text.stdout).toMatch(/all accepted/);
    expect(text.stdout).toContain(`${oldKeyOf(p, "legacy-1")}  missing_workspace_id (accepted)`);
    expectCode(await cli(p, "backfill"), 0);
    expectCode(await runCli(verifyArgs(target, p)), 0);

    // Cleanup without --override-guard; it keeps the accepted keys; then "done" and a green nightly.
    const cleanup = await runCli(toolArgs(target, p, "cleanup", "--execute", "--json"), FLAG_ON);
    expectCode(cleanup, 0);
    expect(jsonOf(cleanup).counts.deleted).toBe(120);
    expect(await redis.exists(oldKeyOf(p, "legacy-1"))).toBe(1);
    expectCode(await runCli(verifyArgs(target, p)), 0);
    const done = await gate(p, "done");
    expect(done.unmet).toEqual([]);
    expect(done.json.phase).toBe("done");
    expect(done.next.safe).toBe(true);

    // A new malformed old key: the nightly, the gates and the next step turn red.
    await redis.hset(oldKeyOf(p, "legacy-4"), { job_id: "legacy-4", status: "x" });
    const again = await runCli(verifyArgs(target, p, "--json"));
    expectCode(again, 1);
    expect(jsonOf(again).counts.unmigratable).toBe(4);
    expect(jsonOf(again).counts.unmigratableAccepted).toBe(3);
    const notDone = await gate(p, "done");
    expect(notDone.code).toBe(1);
    expect(notDone.next.safe).toBe(false);
    await redis.del(oldKeyOf(p, "legacy-4"));
    expectCode(await runCli(verifyArgs(target, p)), 0);

    // A new divergence (old-schema code writes an old key back with other content): red.
    const j = jobs[7]!;
    await redis.hset(oldKeyOf(p, j.job_id), {
      job_id: j.job_id,
      workspace_id: j.workspace_id,
      status: "resurrected",
    });
    expect(await redis.exists(newKeyOf(p, j))).toBe(1);
    const diverged = await runCli(verifyArgs(target, p, "--json"));
    expectCode(diverged, 1);
    expect(jsonOf(diverged).clean).toBe(false);
    const unclean = await gate(p, "ready-for-cleanup", true);
    expect(unclean.code).toBe(1);
    expect(unclean.unmet.join("\n")).toMatch(/was not clean/);

    // accept --clear: every leftover fails again.
    await redis.del(oldKeyOf(p, j.job_id));
    expectCode(await cli(p, "accept", "--clear", "--reason", "data fixed"), 0);
    expectCode(await runCli(verifyArgs(target, p)), 1);
  });

  it("accept refuses without a complete verify of the whole keyspace: exit 2, nothing accepted", async () => {
    const p = uniquePrefix("accept-none");
    const r = await cli(p, "accept", "--from-last", "verify", "--reason", "x");
    expectCode(r, 2);
    expect(r.stderr).toMatch(/no complete verify of the whole keyspace/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect((await cli(p, "accept", "--list")).stdout).toBe("no leftovers are accepted\n");
    expectCode(await cli(p, "accept"), 2);
    expectCode(await cli(p, "accept", "--list", "--clear"), 2);
  });
});
