import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { describe, expect, it, onTestFinished } from "vitest";
import { startRedisServer } from "../../tools/redisProcess.js";
import { testKeys } from "../support/backfillRun.js";
import { waitFor } from "../support/checkpoint.js";
import { keysUnder, snapshotPrefix } from "../support/keys.js";
import { floodWithPings, keepBusy, stall } from "../support/serverLoad.js";

type Keys = ReturnType<typeof testKeys>;
type Run = Awaited<ReturnType<Keys["start"]>>;

/**
 * Once `run` logs `pausing` it stands still: over the next 1.5 s (1,500 keys at --rate
 * 1000, had it not paused) its checkpoint gains no more than a batch in flight, and it
 * does not resume.
 */
async function expectPausedAndStill(t: Keys, run: Run, pausing: string): Promise<void> {
  await run.logged(pausing, 5000);
  const atPause = await t.scanned();
  await sleep(1500);
  const paused = await t.checkpoint();
  expect([paused.status, paused.scanned - atPause <= 75]).toEqual(["running", true]);
  expect(run.stderr()).not.toContain("resumed after:");
}

describe("load guards, on servers of their own", () => {
  it("a busy server pauses a --max-latency run, which resumes and copies exactly what an unloaded run copies", async () => {
    const server = await startRedisServer();
    const redis = new Redis(server.url);
    try {
      const t = testKeys(redis, server.url, "latency");
      await t.seed(2600);
      const run = await t.start("--rate", "1000", "--max-latency", "50");
      const before = await t.keysPerSecond(1000);
      const [loadFrom, t0] = [await t.scanned(), Date.now()];
      const stopLoad = keepBusy(server.host, server.port);
      onTestFinished(stopLoad);
      await run.logged("pausing: server latency", 10_000);
      await stopLoad();
      const during = ((await t.scanned()) - loadFrom) / ((Date.now() - t0) / 1000);
      await run.logged("resumed after: server latency");
      const after = await t.keysPerSecond(1000);
      const done = await run.done;
      expect(done.code).toBe(0);
      const reason = `server latency \\d+ ms on 127.0.0.1:${server.port} > --max-latency 50`;
      expect(done.stderr).toMatch(new RegExp(`pausing: ${reason}`));
      expect([during < before / 4, after > before / 2]).toEqual([true, true]);

      const loaded = await snapshotPrefix(redis, `${t.p}ai:job:`);
      expect(loaded.size).toBe(2600);
      await redis.del(...loaded.keys());
      expect((await t.backfill("--restart")).code).toBe(0);
      expect(await snapshotPrefix(redis, `${t.p}ai:job:`)).toEqual(loaded);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });

  it("a replica further behind than --max-replica-lag pauses the run until it catches up", async () => {
    const master = await startRedisServer({ extraArgs: ["--repl-diskless-sync-delay", "0"] });
    const replica = await startRedisServer({
      extraArgs: ["--replicaof", "127.0.0.1", String(master.port)],
    });
    const [redis, onReplica] = [new Redis(master.url), new Redis(replica.url)];
    try {
      await waitFor("the replica's link", async () =>
        (await onReplica.info("replication")).includes("master_link_status:up"),
      );
      const t = testKeys(redis, master.url, "replica-lag");
      const jobs = await t.seed(2000);
      await redis.wait(1, 5000); // the replica has acknowledged the seed: no lag to start with
      const run = await t.start("--rate", "1000", "--max-replica-lag", "500000");
      // The replica neither reads nor acknowledges the stream while 1 MB goes by.
      const asleep = stall(onReplica, 2000);
      await redis.set(`${t.p}blob`, Buffer.alloc(1_000_000, 1));
      await run.logged("pausing: a replica of", 5000);
      const atPause = await t.scanned();
      await asleep;
      expect((await t.scanned()) - atPause).toBeLessThanOrEqual(75);
      const done = await run.done;
      expect(done.code).toBe(0);
      expect(done.stderr).toMatch(
        /pausing: a replica of 127\.0\.0\.1:\d+ is \d+ bytes behind > --max-replica-lag 500000/,
      );
      expect(done.stderr).toContain("resumed after: a replica of");
      await t.expectEveryJobCopied(jobs);
    } finally {
      redis.disconnect();
      onReplica.disconnect();
      await Promise.all([replica.stop(), master.stop()]);
    }
  });

  it("used_memory above --max-memory % of maxmemory pauses the run until maxmemory is raised; nothing is evicted; without maxmemory it warns", async () => {
    const server = await startRedisServer({ extraArgs: ["--maxmemory-policy", "noeviction"] });
    const redis = new Redis(server.url);
    try {
      const t = testKeys(redis, server.url, "max-memory");
      const jobs = await t.seed(3000);
      const run = await t.start("--rate", "1000", "--max-memory", "40");
      // Only now: a run paused before its first batch shows no progress for start() to see.
      // Twice what is used: 50% now, and room for every copy (writes are never refused).
      const used = Number(/^used_memory:(\d+)/m.exec(await redis.info("memory"))![1]);
      await redis.config("SET", "maxmemory", String(2 * used));
      await expectPausedAndStill(t, run, "pausing: used_memory at");

      await redis.config("SET", "maxmemory", String(1000 * used));
      const done = await run.done;
      expect(done.code).toBe(0);
      const reason = `used_memory at (\\d+)% of maxmemory on 127\\.0\\.0\\.1:${server.port} > --max-memory 40%`;
      const pct = Number(new RegExp(`pausing: ${reason}\\n`).exec(done.stderr)?.[1]);
      expect([pct >= 40, pct <= 100]).toEqual([true, true]);
      expect(done.stderr).toMatch(new RegExp(`resumed after: ${reason}\\n`));
      expect(done.stderr.match(/pausing:/g)).toHaveLength(1);
      // Started without maxmemory, where the limit could not apply: said once.
      const noMax = `--max-memory 40% has no effect on 127.0.0.1:${server.port}: it sets no maxmemory`;
      expect(done.stderr.split(noMax)).toHaveLength(2);
      expect(await keysUnder(redis, `${t.p}ai:jobs:`)).toHaveLength(3000);
      await t.expectEveryJobCopied(jobs);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });

  it("a server doing more ops/s than --max-ops pauses the run until the flood of commands stops", async () => {
    const server = await startRedisServer();
    const redis = new Redis(server.url);
    let stopFlood: (() => Promise<void>) | undefined;
    try {
      const t = testKeys(redis, server.url, "max-ops");
      const jobs = await t.seed(3000);
      // The run's own commands at --rate 1000 (its Lua's redis.call count too): ~2,200/s.
      // The flood: ~300,000/s. The server's figure averages the last 1.6 s.
      const run = await t.start("--rate", "1000", "--max-ops", "20000");
      stopFlood = floodWithPings(server.host, server.port);
      await expectPausedAndStill(t, run, "pausing: ");

      await stopFlood();
      const done = await run.done;
      expect(done.code).toBe(0);
      const reason = `(\\d+) ops/s on 127\\.0\\.0\\.1:${server.port} > --max-ops 20000`;
      const ops = Number(new RegExp(`pausing: ${reason}\\n`).exec(done.stderr)?.[1]);
      expect(ops).toBeGreaterThan(20_000);
      expect(done.stderr).toMatch(new RegExp(`resumed after: ${reason}\\n`));
      // Its own commands never pause the run: not before the flood, not after it.
      expect(done.stderr.match(/pausing:/g)).toHaveLength(1);
      await t.expectEveryJobCopied(jobs);
    } finally {
      await stopFlood?.();
      redis.disconnect();
      await server.stop();
    }
  });
});
