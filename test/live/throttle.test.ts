import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { testKeys } from "../support/backfillRun.js";
import { jsonOf } from "../support/cli.js";
import { watchScanCounts } from "../support/serverLoad.js";
import { connect, targets, type RedisClient } from "../support/targets.js";

describe.each(targets())("throttling and control of a running backfill on %s", (target) => {
  let redis: RedisClient;
  // Batches already past their control check finish: one per master (COUNT is a hint).
  const batchesInFlight = (target.cluster ? 3 : 1) * 50 * 1.5;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it("ctl pause stops the run within one batch and the progress line says PAUSED; ctl resume lets it finish with every job copied", async () => {
    const t = testKeys(redis, target.url, "ctl-pause");
    const jobs = await t.seed(1000);
    const run = await t.start("--rate", "500", "--progress-interval", "1");
    // No --run: the run is found by its lock.
    expect((await t.cli("ctl", "pause")).stdout).toBe("ctl pause: sent to backfill\n");
    await run.logged("pausing: paused by ctl");
    const atPause = await t.scanned();
    await sleep(1500); // 750 keys at --rate 500, had it not paused
    const paused = await t.checkpoint();
    expect([paused.status, paused.scanned - atPause <= batchesInFlight]).toEqual(["running", true]);
    const stderrWhilePaused = run.stderr();

    expect((await t.cli("ctl", "resume", "--run", "backfill")).code).toBe(0);
    const done = await run.done;
    expect(done.code).toBe(0);
    expect(done.stderr).toContain("resumed after: paused by ctl");
    await t.expectEveryJobCopied(jobs);
    // Progress lines (one a second here) say why the run stands still.
    const sincePause = stderrWhilePaused.slice(stderrWhilePaused.indexOf("pausing:"));
    expect(sincePause).toMatch(/keys.*PAUSED: paused by ctl/);
  });

  it("ctl set rate= and batch= retune a running run: several times the keys/s, and the new SCAN COUNT", async () => {
    const t = testKeys(redis, target.url, "ctl-set");
    const jobs = await t.seed(7000);
    const scans = await watchScanCounts(redis, `${t.p}ai:jobs:*`);
    onTestFinished(scans.stop);
    const run = await t.start("--rate", "500");
    const slow = await t.keysPerSecond(1000);
    const set = await t.cli("ctl", "set", "rate=5000", "batch=100", "--run", "backfill");
    expect(set.stdout).toBe("ctl set rate=5000 batch=100: sent to backfill\n");
    await run.logged("ctl: rate set to 5000 keys/s");
    const fast = await t.keysPerSecond(1000);
    const done = await run.done;
    scans.stop();
    expect(done.code).toBe(0);
    expect(done.stderr).toContain("ctl: batch size set to 100");
    expect([slow < 500 * 1.3, fast > 3 * slow]).toEqual([true, true]);
    const { counts } = scans;
    expect([counts[0], counts.at(-1), new Set(counts)]).toEqual([50, 100, new Set([50, 100])]);
    await t.expectEveryJobCopied(jobs);
  });

  it("a pause longer than --max-pause exits 130 with the checkpoint saved; the next run clears the pause and completes", async () => {
    const t = testKeys(redis, target.url, "max-pause");
    const jobs = await t.seed(600);
    const run = await t.start("--rate", "300", "--max-pause", "1s");
    await t.cli("ctl", "pause", "--run", "backfill");
    const stopped = await run.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(
      /paused longer than --max-pause \(paused by ctl .*\): checkpoint saved after \d+ keys/,
    );
    const saved = await t.checkpoint();
    expect([saved.status, saved.scanned < 600]).toEqual(["interrupted", true]);
    expect(await redis.hget(t.state("control"), "paused")).toBe("1");

    const next = await t.backfill("--json");
    expect([next.code, jsonOf(next).resumed]).toEqual([0, true]);
    expect(await redis.exists(t.state("control"))).toBe(0);
    await t.expectEveryJobCopied(jobs);
  });

  it("locks lists a running run's lock with its pid; release --force refuses while it lives and frees it after kill -9", async () => {
    const t = testKeys(redis, target.url, "locks");
    const jobs = await t.seed(1000);
    // A TTL long enough that the dead run's lock is still there when released on a loaded machine.
    const run = await t.start("--rate", "300", "--lock-ttl", "30000");
    const pid = run.child.pid!;
    const release = ["locks", "release", "--force", "--run", "backfill"];
    const [listed, text, refused] = await Promise.all([
      t.cli("locks", "--json"),
      t.cli("locks"),
      t.cli(...release),
    ]);
    const owner = expect.objectContaining({ pid, host: hostname() });
    const lock = (state: string) => [expect.objectContaining({ scope: "backfill", owner, state })];
    expect(jsonOf(listed).locks).toEqual(lock("alive"));
    expect(text.stdout).toMatch(new RegExp(`^backfill +pid ${pid} on .*, alive\\n$`));
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(`refusing: the holder is alive (pid ${pid} on ${hostname()}`);

    run.child.kill("SIGKILL");
    await run.done;
    expect(jsonOf(await t.cli("locks", "--json")).locks).toEqual(lock("dead (pid gone)"));
    const released = await t.cli(...release);
    expect(released.code).toBe(0);
    expect(released.stdout).toContain(`released the lock of backfill (pid ${pid} `);
    expect(await redis.exists(t.state("lock"))).toBe(0);
    const next = await t.backfill();
    expect(next.code).toBe(0);
    expect(next.stderr).not.toContain("took over");
    await t.expectEveryJobCopied(jobs);
  });

  it("locks release --force refuses a lock from another host while its heartbeat renews it", async () => {
    const t = testKeys(redis, target.url, "foreign-lock");
    const owner = JSON.stringify({ runId: "r1", host: "other-host", pid: 42, since: "2026-01-01" });
    await redis.set(t.state("lock"), owner, "PX", 4500);
    // Renewed as a live run's heartbeat renews it: every third of its TTL.
    const heartbeat = setInterval(() => void redis.pexpire(t.state("lock"), 4500), 1500);
    const refused = await t.cli("locks", "release", "--force", "--run", "backfill");
    clearInterval(heartbeat);
    expect([refused.code, await redis.get(t.state("lock"))]).toEqual([4, owner]);
    expect(refused.stderr).toContain("refusing: the lock's heartbeat is alive");
  });

  it("--target-batch-ms changes SCAN COUNT during the run, and every job is copied exactly", async () => {
    const t = testKeys(redis, target.url, "target-ms");
    const jobs = await t.seed(3000);
    const scans = await watchScanCounts(redis, `${t.p}ai:jobs:*`);
    onTestFinished(scans.stop);
    const r = await t.backfill("--batch-size", "500", "--target-batch-ms", "5");
    scans.stop();
    expect(r.code).toBe(0);
    expect([scans.counts[0], new Set(scans.counts).size > 1]).toEqual([500, true]);
    expect(scans.counts.filter((c) => c < 10 || c > 10_000)).toEqual([]);
    await t.expectEveryJobCopied(jobs);
  });
});
