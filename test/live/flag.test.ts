import { hostname, userInfo } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppQueue, seedOldJobs } from "../support/appTraffic.js";
import { checkpointProgress, waitFor } from "../support/checkpoint.js";
import { cleanVerify, FLAG_OFF, FLAG_ON, provenJobs, toolArgs } from "../support/cleanup.js";
import { jsonOf, runCli, startCli, type CliOptions } from "../support/cli.js";
import { connect, targets, uniquePrefix, type RedisClient } from "../support/targets.js";

type Current = { status: string; state: string; processed: number; holder?: { pid: number } };

/** What `flag --json` prints (src/cli/commands/flag.ts), as far as these tests read it. */
interface Rollout {
  exitCode: number;
  flag: { env?: string; redis?: string; flagKey?: string; disagree: boolean; on?: boolean };
  phase: string;
  runs: Record<"backfill" | "cleanup" | "reverse", { last?: object; current?: Current }>;
  keys: { old: number; new: number; partialOld: number; exact: boolean };
  next: { step: string; safe: boolean; reasons: string[] };
  audit: { at: string; who: string; reason: string; previous: string | null; value: string }[];
  gate?: { name: string; met: boolean; unmet: string[] };
}

const met = { code: 0, unmet: [] };
const unmet = (...reasons: (string | RegExp)[]) => ({
  code: 1,
  unmet: reasons.map((r) => (typeof r === "string" ? r : expect.stringMatching(r))),
});

describe.each(targets())("flag on %s", (target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  const run = (p: string, sub: string, opts: CliOptions = {}, ...extra: string[]) =>
    runCli(toolArgs(target, p, sub, ...extra), opts);
  const seed = (p: string, count: number) =>
    seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count, workspaces: 4 });
  const progressed = (p: string, scope: string, n: number) =>
    waitFor(`${n} keys`, async () => {
      return (await checkpointProgress(redis, `${p}jm:${scope}:checkpoint`)).scanned >= n;
    });
  /** `flag --count --json`: exact counts, so other tests' keys on the server never blur it. */
  async function rollout(p: string, opts: CliOptions = {}, ...extra: string[]) {
    const r = await run(p, "flag", opts, "--count", "--json", ...extra);
    const s = jsonOf(r) as unknown as Rollout;
    expect(r.code, r.stderr).toBe(s.gate?.met === false ? 1 : 0);
    expect(s.exitCode).toBe(r.code);
    return s;
  }
  const phase = async (p: string, opts: CliOptions = {}) => (await rollout(p, opts)).phase;
  const at = (s: Rollout) => [s.phase, s.keys.old, s.keys.new, s.keys.partialOld];
  const verify = (p: string, ...extra: string[]) =>
    run(p, "verify", {}, "--recheck-delay", "10", ...extra);
  async function gate(p: string, name: string, opts: CliOptions = {}, ...extra: string[]) {
    const s = await rollout(p, opts, "--require", name, ...extra);
    expect(s.gate).toMatchObject({ name, met: s.gate!.unmet.length === 0 });
    return { code: s.exitCode, unmet: s.gate!.unmet };
  }

  it("names every phase from the data the other subcommands leave behind", async () => {
    const p = uniquePrefix("flag-phases");
    await seed(p, 40);
    let s = await rollout(p);
    expect([...at(s), s.keys.exact]).toEqual(["not started", 40, 0, 0, true]);
    const app = new AppQueue({
      ...{ redis, oldPrefix: `${p}ai:jobs:`, newPrefix: `${p}ai:job:` },
      ...{ queueKey: `${p}ai:queue:pending`, flagOn: true },
    });
    for (const job_id of ["live-1", "live-2"]) {
      const job = { job_id, workspace_id: "ws-1", actor_id: "user-1", params: "{}" };
      await app.enqueue({ ...job, action_provider: "slack", action_name: "chat.post" });
    }
    s = await rollout(p);
    expect(at(s)).toEqual(["dual-write", 42, 2, 0]);
    expect(s.next.step).toMatch(/jobs-migrate backfill/);

    expect((await run(p, "backfill")).code).toBe(0);
    s = await rollout(p);
    expect([...at(s), s.next.step]).toEqual(["backfilled", 42, 42, 0, "run `jobs-migrate verify`"]);
    await cleanVerify(target, p);
    expect([await phase(p), await phase(p, FLAG_OFF)]).toEqual(["verified", "verified"]);
    expect(await phase(p, FLAG_ON)).toBe("read flipped");

    expect((await run(p, "cleanup", FLAG_ON, "--execute")).code).toBe(0);
    expect(at(await rollout(p, FLAG_ON))).toEqual(["done", 0, 42, 0]);
    expect(await gate(p, "done", FLAG_ON)).toEqual(met);

    // Old-schema writes still on: update_status re-creates a deleted old key as a partial hash.
    await app.updateStatus("job-0", "ws-0", "completed", '{"ok":true}');
    s = await rollout(p, FLAG_ON);
    expect([...at(s), s.next.safe]).toEqual(["cleaning up", 1, 42, 1, false]);
    expect(s.next.reasons.join("\n")).toMatch(
      /1 partial old hashes( \(estimated\))?: old-schema writes look still on/,
    );
    expect(await gate(p, "done", FLAG_ON)).toEqual(unmet('the phase is "cleaning up", not "done"'));
    expect(await phase(p, FLAG_OFF)).toBe("rolled back");

    expect((await run(p, "backfill --reverse")).code).toBe(0);
    s = await rollout(p, FLAG_OFF);
    expect(at(s)).toEqual(["rolled back", 42, 42, 0]);
    expect(s.runs.reverse.last).toBeDefined();
  });

  it("after a cleanup that kept old keys it cannot prove safe, says so instead of asking to finish the cleanup", async () => {
    const p = uniquePrefix("flag-kept");
    await seed(p, 20);
    await redis.hset(`${p}ai:jobs:legacy-1`, { job_id: "legacy-1", result: "{}" });
    expect((await run(p, "backfill")).code).toBe(1);
    await cleanVerify(target, p);
    const r = await run(p, "cleanup", FLAG_ON, "--execute");
    expect(r.code, r.stderr).toBe(1);
    const s = await rollout(p, FLAG_ON);
    expect(at(s)).toEqual(["cleaning up", 1, 20, 0]);
    expect(s.next.step).toMatch(
      /^the last cleanup kept 1 old key\(s\) it cannot prove safe to delete \(unmigratable, or not equal to their new key/,
    );
    expect(await gate(p, "done", FLAG_ON)).toEqual(unmet('the phase is "cleaning up", not "done"'));
  });

  it("each gate passes and fails on the right data, with its reasons and exit status", async () => {
    const p = uniquePrefix("flag-gates");
    await seed(p, 40);
    const noVerify = "no completed verify of the whole keyspace";
    expect(await gate(p, "backfilled")).toEqual(unmet("no completed backfill"));
    expect(await gate(p, "verified")).toEqual(unmet("no completed backfill", noVerify));
    expect(await gate(p, "done")).toEqual(unmet('the phase is "not started", not "done"'));

    expect((await run(p, "backfill")).code).toBe(0);
    expect(await gate(p, "backfilled")).toEqual(met);
    expect(await gate(p, "verified")).toEqual(unmet(noVerify));
    // A clean canary is not a verify of the whole keyspace.
    expect((await verify(p, "--workspace", "ws-1")).code).toBe(0);
    expect(await gate(p, "ready-for-read-flip")).toEqual(unmet(noVerify));

    await cleanVerify(target, p);
    expect(await gate(p, "verified")).toEqual(met);
    expect(await gate(p, "ready-for-read-flip")).toEqual(met);
    expect(await gate(p, "verified", {}, "--max-verify-age", "1ms")).toEqual(
      unmet(/^the last clean verify is older than --max-verify-age \(\d+ min\)$/),
    );
    // The old name, kept for one release: the same gate, the same answer, one warning line.
    const old = await run(p, "flag", {}, "--json", "--require", "verified", "--max-age", "1ms");
    expect([old.code, (jsonOf(old) as unknown as Rollout).gate?.unmet]).toEqual([
      1,
      [expect.stringMatching(/^the last clean verify is older than --max-verify-age /)],
    ]);
    expect(old.stderr).toBe(
      "jobs-migrate: warning: --max-age is deprecated, use --max-verify-age (it will be removed in the next release)\n",
    );
    const flagOff = "the flag is not on (reads must use the new keys)";
    expect(await gate(p, "ready-for-cleanup")).toEqual(unmet(flagOff));
    expect(await gate(p, "ready-for-cleanup", FLAG_ON)).toEqual(met);

    await redis.set(`${p}flag`, "off");
    const disagree = unmet("the flag disagrees: environment on, Redis off");
    const withKey = ["--flag-key", `${p}flag`];
    expect(await gate(p, "ready-for-read-flip", FLAG_ON, ...withKey)).toEqual(disagree);
    expect(await gate(p, "ready-for-cleanup", FLAG_ON, ...withKey)).toEqual(disagree);

    // What update_status leaves at an old key that is gone: old-schema writes are on.
    await redis.hset(`${p}ai:jobs:gone-1`, { status: "completed", finished_at: "2025-10-17" });
    expect(await gate(p, "ready-for-cleanup", FLAG_ON)).toEqual(
      unmet("1 partial old hashes: old-schema writes look still on"),
    );
    await redis.del(`${p}ai:jobs:gone-1`);

    await redis.hset(`${p}ai:job:ws-1:job-1`, "status", "tampered");
    expect((await verify(p)).code).toBe(1);
    const dirty = unmet(/^the last verify \(run \w+\) was not clean$/);
    expect(await gate(p, "verified")).toEqual(dirty);
    expect(await gate(p, "ready-for-cleanup", FLAG_ON)).toEqual(dirty);

    await redis.hset(`${p}ai:job:ws-1:job-1`, "status", "running"); // job 1's seeded status
    await cleanVerify(target, p);
    expect((await run(p, "backfill")).code).toBe(0);
    expect(await gate(p, "verified")).toEqual(
      unmet("the last verify finished before the last backfill"),
    );
  });

  it("the backfilled gate is not met by a backfill that found unmigratable keys", async () => {
    const p = uniquePrefix("flag-unmigratable");
    await seed(p, 20);
    await redis.hset(`${p}ai:jobs:no-ws`, { job_id: "no-ws", status: "pending" });
    expect((await run(p, "backfill")).code).toBe(1);
    expect(await gate(p, "backfilled")).toEqual(
      unmet(
        "1 unmigratable old key(s) not accepted (last backfill): fix them, or `jobs-migrate accept --from-last verify` after a verify",
      ),
    );
  });

  it("a live run shows as running with its holder's pid; killed with kill -9 it shows as stale, not running", async () => {
    const p = uniquePrefix("flag-stale");
    await seed(p, 400);
    const live = startCli(toolArgs(target, p, "backfill", "--rate", "50", "--batch-size", "10"));
    await progressed(p, "backfill", 20);
    let s = await rollout(p);
    const [busy, died] = ["a backfill run is in progress", "a backfill run died"];
    const holder = { pid: live.child.pid, host: hostname() };
    expect(s.runs.backfill.current).toMatchObject({ state: "running", status: "running", holder });
    expect(s.runs.backfill.current!.processed).toBeGreaterThanOrEqual(20);
    expect([s.next.safe, s.next.reasons]).toEqual([false, [busy]]);
    expect((await gate(p, "ready-for-read-flip")).unmet).toContain(busy);

    live.child.kill("SIGKILL");
    expect((await live.done).signal).toBe("SIGKILL");
    s = await rollout(p);
    expect(s.runs.backfill.current).toMatchObject({ state: "stale", status: "running" });
    expect(s.next.reasons).toEqual([`${died} (stale checkpoint): run it again to finish`]);
    expect((await gate(p, "ready-for-read-flip")).unmet).not.toContain(busy);

    expect((await run(p, "backfill")).code).toBe(0);
    s = await rollout(p);
    expect([s.phase, s.next.safe]).toEqual(["backfilled", true]);
    expect(s.runs.backfill.current).toBeUndefined();
  });

  it("a cleanup --execute interrupted after deleting old keys counts as cleanup begun", async () => {
    const p = uniquePrefix("flag-cleanup-int");
    await provenJobs(redis, target, p, 60);
    const args = ["--execute", "--batch-size", "2", "--rate", "60"];
    const first = startCli(toolArgs(target, p, "cleanup", ...args), FLAG_ON);
    await progressed(p, "cleanup", 10);
    first.child.kill("SIGINT");
    expect((await first.done).code).toBe(130);
    const s = await rollout(p, FLAG_ON);
    expect(s.keys.old).toBeLessThan(60);
    expect(s.runs.cleanup.current).toMatchObject({ state: "stopped", status: "interrupted" });
    // Old keys are gone: the flag off now needs backfill --reverse, not just a restart.
    expect([s.phase, await phase(p, FLAG_OFF)]).toEqual(["cleaning up", "rolled back"]);
  });

  it("a cleanup that stops itself (exit 5, old-schema writes still on) is not reported as a dead run", async () => {
    const p = uniquePrefix("flag-cleanup-5");
    await provenJobs(redis, target, p, 20);
    expect((await run(p, "cleanup", FLAG_ON, "--execute")).code).toBe(0);
    await redis.hset(`${p}ai:jobs:job-3`, "status", "completed"); // update_status, old side
    expect((await run(p, "cleanup", FLAG_ON, "--execute")).code).toBe(5);
    const s = await rollout(p, FLAG_ON);
    expect(s.phase).toBe("cleaning up");
    expect(s.next.reasons.join("\n")).toMatch(
      /1 partial old hashes( \(estimated\))?: old-schema writes look still on/,
    );
    expect(s.runs.cleanup.current?.state ?? "none").not.toMatch(/running|stale/);
    expect(s.next.reasons.join("\n")).not.toMatch(/died/);
  });

  it("flag set switches the Redis flag with an audit trail; flag warns when environment and Redis disagree", async () => {
    const p = uniquePrefix("flag-set");
    const key = `${p}flag`;
    const set = (...args: string[]) => run(p, "flag set", {}, ...args);
    let r = await set("on", "--reason", "read flip, CHG-1", "--flag-key", key);
    expect(r.code).toBe(0);
    // No --actor: the OS user at the host (the test env has no USER).
    const who = `${userInfo().username}@${hostname()}`;
    expect(r.stdout).toBe(`flag ${key}: unset -> on (audit entry by ${who})\n`);
    r = await set("off", "--reason", "rollback: 5xx on /ai/jobs", "--flag-key", key);
    expect(r.stdout).toMatch(`flag ${key}: on -> off`);
    r = await set("on", "--reason", "retry after fix", "--flag-key", key, "--json");
    expect(jsonOf(r)).toMatchObject({ subcommand: "flag set", previous: "off", value: "on" });
    // Refused with one line and exit 2 (bad value, no reason, no key); nothing changed.
    for (const args of ["maybe --reason x --flag-key K", "on --flag-key K", "on --reason x"]) {
      r = await set(...args.replace("K", key).split(" "));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^jobs-migrate: flag set .+\n$/);
    }
    expect(await redis.get(key)).toBe("on");

    let s = await rollout(p, {}, "--flag-key", key);
    expect(s.flag).toEqual({ redis: "on", flagKey: key, disagree: false, on: true });
    expect(s.audit.map((a) => [a.previous, a.value, a.reason])).toEqual([
      ["off", "on", "retry after fix"],
      ["on", "off", "rollback: 5xx on /ai/jobs"],
      [null, "on", "read flip, CHG-1"],
    ]);
    const times = s.audit.map((a) => Date.parse(a.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(new Set(s.audit.map((a) => a.who))).toEqual(new Set([who]));

    s = await rollout(p, FLAG_OFF, "--flag-key", key);
    expect(s.flag).toEqual({ env: "off", redis: "on", flagKey: key, disagree: true, on: false });
    expect(s.next.reasons).toEqual(["the flag disagrees: environment off, Redis on"]);
    const text = (await run(p, "flag", FLAG_OFF, "--flag-key", key)).stdout;
    expect(text).toContain(
      `environment AI_JOBS_NEW_SCHEMA=off, Redis ${key}=on  WARNING: they disagree`,
    );
    expect(text).toMatch(/flag changes \(newest first\)\n.*: off -> on {2}"retry after fix"\n/);
    expect((await run(p, "flag", FLAG_ON, "--flag-key", key)).stdout).not.toMatch(/disagree/);
  });
});
