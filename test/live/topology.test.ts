/**
 * Runs that ride through a topology change (issue 11), on a Cluster of their own (3
 * masters, one replica each) with the application writing throughout: a planned failover
 * and a killed master cost one shard's rescan, never the run; a reshard under a run never
 * hides a key, and the run does not call itself complete before the moved slots are
 * rescanned.
 */
import calculateSlot from "cluster-key-slot";
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisCluster, type RedisClusterHandle } from "../../tools/redisProcess.js";
import {
  readHashBuffers,
  sameHash,
  seedOldJobs,
  startTraffic,
  type JobRef,
  type Traffic,
} from "../support/appTraffic.js";
import { checkpointProgress, waitFor } from "../support/checkpoint.js";
import { jsonOf, prefixArgs, runCli, startCli } from "../support/cli.js";
import {
  killMaster,
  masterPorts,
  plannedFailover,
  reshard,
  slotOwnerPort,
} from "../support/clusterOps.js";
import { readReport, tempFile } from "../support/divergences.js";
import { FLAG_ON } from "../support/cleanup.js";
import { connect, uniquePrefix } from "../support/targets.js";

const JOBS = 4000;

describe("topology changes during a run (3 masters with replicas, app traffic)", () => {
  let c: RedisClusterHandle;
  let redis: Cluster;
  let url: string;

  beforeAll(async () => {
    // A 2 s node timeout: a killed master's replica takes over in ~3 s, not ~8.
    c = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 2000 });
    url = c.url;
    redis = connect({ name: "cluster", url, cluster: true }) as Cluster;
  });
  afterAll(async () => {
    redis?.disconnect();
    await c?.stop();
  });

  /** A keyspace of its own: JOBS old jobs, the last 500 of them updated by the app. */
  async function keyspace(label: string) {
    const p = uniquePrefix(label);
    const jobs = await seedOldJobs(redis, {
      oldPrefix: `${p}ai:jobs:`,
      count: JOBS,
      workspaces: 4,
    });
    const busy = jobs.slice(-500);
    const quiet = jobs.slice(0, -500);
    const args = (sub: string, ...extra: string[]) => [
      sub,
      "--redis-url",
      url,
      ...prefixArgs(p),
      // flag takes no --settle-timeout: it waits for nothing.
      ...(sub === "flag" ? [] : ["--settle-timeout", "60s"]),
      ...extra,
    ];
    const newKey = (j: JobRef) => `${p}ai:job:${j.workspace_id}:${j.job_id}`;
    const oldKey = (j: JobRef) => `${p}ai:jobs:${j.job_id}`;
    const traffic = (oldWrites = true): Traffic =>
      startTraffic({
        oldWrites,
        redis,
        oldPrefix: `${p}ai:jobs:`,
        newPrefix: `${p}ai:job:`,
        queueKey: `${p}queue`,
        flagOn: true,
        jobs: busy,
        concurrency: 4,
        newJobsPerSecond: 20,
      });
    const scanned = async (sub: string) =>
      (await checkpointProgress(redis, `${p}jm:${sub}:checkpoint`)).scanned;
    /** Every job has its new key; every job the app left alone holds its old key's bytes. */
    async function expectCopied(): Promise<void> {
      for (const j of jobs) {
        const n = await readHashBuffers(redis, newKey(j));
        expect(n.size, `${newKey(j)} missing`).toBeGreaterThan(0);
        if (quiet.includes(j)) {
          expect(sameHash(await readHashBuffers(redis, oldKey(j)), n)).toBe(true);
        }
      }
    }
    return { p, jobs, quiet, args, newKey, oldKey, traffic, scanned, expectCopied };
  }

  /** Start a subcommand in the background; resolve once its checkpoint shows `after` keys. */
  async function startAt(
    ks: Awaited<ReturnType<typeof keyspace>>,
    sub: string,
    after: number,
    extra: string[],
  ) {
    const run = startCli(ks.args(sub, ...extra), FLAG_ON);
    let stderr = "";
    run.child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    let ended: string | undefined;
    void run.done.then((r) => (ended = `${sub} exited ${r.code} before any progress: ${r.stderr}`));
    await waitFor(
      `${sub} progress`,
      async () => {
        if (ended !== undefined) throw new Error(ended);
        return (await ks.scanned(sub)) >= after;
      },
      30_000,
    );
    return { ...run, stderr: () => stderr };
  }

  const shardLines = (stderr: string) =>
    stderr.split("\n").filter((l) => /rescanned from the start/.test(l));

  /**
   * Take the master on `port` away: a planned failover (CLUSTER FAILOVER on its replica),
   * or kill -9 once its replica has caught up (then its replica is promoted after the
   * node timeout). Returns the new master's port and how to bring the killed one back.
   */
  async function failOver(kind: string, port: number) {
    if (kind === "planned failover") {
      const { newMasterPort } = await plannedFailover(c, port);
      return { newMasterPort, restore: async () => undefined };
    }
    const killed = await killMaster(c, port);
    return { newMasterPort: killed.newMasterPort, restore: killed.restart };
  }

  describe.each(["planned failover", "killed master"])("a %s mid-run", (kind) => {
    it("backfill finishes without --restart, only that shard rescanned, every job copied", async () => {
      const ks = await keyspace("failover-backfill");
      const traffic = ks.traffic();
      const [victim] = await masterPorts(c);
      const run = await startAt(ks, "backfill", 1000, ["--rate", "1000", "--batch-size", "50"]);
      const { newMasterPort, restore } = await failOver(kind, victim!);
      expect(run.child.exitCode, "the run ended before the failover did").toBeNull();
      const done = await run.done;
      const stats = await traffic.stop();
      await restore();
      expect(done.code, done.stderr).toBe(0);
      const lines = shardLines(done.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(
        `failed over from 127.0.0.1:${victim} to 127.0.0.1:${newMasterPort}`,
      );
      expect(done.stdout).toMatch(/Topology changes during the run/);
      await ks.expectCopied();
      expect(stats.updates).toBeGreaterThan(0);
    });

    it("verify finishes and finds every planted divergence, and no other", async () => {
      const ks = await keyspace("failover-verify");
      expect((await runCli(ks.args("backfill"))).code).toBe(0);
      // 100 divergences spread over every shard, on jobs the app does not touch.
      const planted = ks.quiet.filter((_, i) => i % 35 === 7).slice(0, 100);
      expect(planted).toHaveLength(100);
      for (const j of planted) await redis.hset(ks.newKey(j), "status", "tampered");
      const traffic = ks.traffic();
      const report = tempFile("failover.jsonl");
      const [, victim] = await masterPorts(c);
      const run = await startAt(ks, "verify", 1000, [
        ...["--rate", "1000", "--recheck-delay", "10"],
        ...["--report", report, "--no-orphans"],
      ]);
      const { restore } = await failOver(kind, victim!);
      expect(run.child.exitCode, "the run ended before the failover did").toBeNull();
      const done = await run.done;
      await traffic.stop();
      await restore();
      expect(done.code, done.stderr).toBe(1); // divergences found: not clean, not an outage
      expect(shardLines(done.stderr)).toHaveLength(1);
      const found = new Set(
        readReport(report)
          .filter((r) => r.status === "confirmed")
          .map((r) => r.oldKey),
      );
      const quietKeys = new Set(ks.quiet.map(ks.oldKey));
      const foundQuiet = [...found].filter((k) => quietKeys.has(k)).sort();
      expect(foundQuiet).toEqual(planted.map(ks.oldKey).sort());
    });

    it("cleanup finishes and deletes only proven old keys", async () => {
      const ks = await keyspace("failover-cleanup");
      expect((await runCli(ks.args("backfill"))).code).toBe(0);
      const verified = await runCli(ks.args("verify", "--recheck-delay", "10"));
      expect(verified.code, verified.stderr).toBe(0);
      // Unproven on purpose: new keys that differ from their old ones keep the old key.
      const unproven = ks.quiet.filter((_, i) => i % 100 === 3);
      for (const j of unproven) await redis.hset(ks.newKey(j), "status", "tampered");
      const traffic = ks.traffic(false); // Phase 3: the app writes only new keys
      const [, , victim] = await masterPorts(c);
      const run = await startAt(ks, "cleanup", 1000, ["--execute", "--rate", "1000"]);
      const { restore } = await failOver(kind, victim!);
      expect(run.child.exitCode, "the run ended before the failover did").toBeNull();
      const done = await run.done;
      await traffic.stop();
      await restore();
      expect([0, 1], done.stderr).toContain(done.code);
      expect(shardLines(done.stderr)).toHaveLength(1);
      for (const j of unproven) expect(await redis.exists(ks.oldKey(j))).toBe(1);
      const rest = ks.quiet.filter((j) => !unproven.includes(j));
      let left = 0;
      for (const j of rest) left += await redis.exists(ks.oldKey(j));
      expect(left).toBe(0);
    }, 90_000);
  });

  it("a stopped run resumes across a failover and a reshard without --restart", async () => {
    const ks = await keyspace("resume-topology");
    const run = await startAt(ks, "backfill", 2000, ["--rate", "2000", "--batch-size", "50"]);
    run.child.kill("SIGKILL");
    await run.done;
    const [a, b, d] = await masterPorts(c);
    const { newMasterPort } = await plannedFailover(c, a!);
    await reshard(c, { fromPort: b!, toPort: d!, slots: 500 });
    // flag says what the checkpoint was made on and what the next run will rescan.
    const flag = await runCli(ks.args("flag"), FLAG_ON);
    expect(flag.stdout).toMatch(/checkpoint made on: \d+-\d+ on 127\.0\.0\.1:\d+/);
    expect(flag.stdout).toMatch(
      new RegExp(
        `changed since: shard \\S+: now served by 127\\.0\\.0\\.1:${newMasterPort}, not 127\\.0\\.0\\.1:${a}`,
      ),
    );
    expect(flag.stdout.match(/its slots moved since \(a reshard\)/g)).toHaveLength(2);
    const traffic = ks.traffic();
    const again = await runCli(ks.args("backfill", "--json"));
    await traffic.stop();
    expect(again.code, again.stderr).toBe(0);
    expect(jsonOf(again).resumed).toBe(true);
    // The failed-over shard starts over on its new master; the two that traded slots are
    // walked afresh; nothing asks for --restart.
    expect(again.stderr).toMatch(
      new RegExp(`failed over from 127\\.0\\.0\\.1:${a} to 127\\.0\\.0\\.1:${newMasterPort}`),
    );
    expect(again.stderr).toMatch(/slot layout changed since the checkpoint: 2 saved shard/);
    await ks.expectCopied();
  }, 90_000);

  it("backfill across a reshard: no job without its new key, rescans before completion", async () => {
    const ks = await keyspace("reshard-backfill");
    const traffic = ks.traffic();
    const [from, to] = await masterPorts(c);
    const run = await startAt(ks, "backfill", 500, [
      "--rate",
      "600",
      "--batch-size",
      "50",
      "--json",
    ]);
    const moving = reshard(c, { fromPort: from!, toPort: to!, slots: 3000, pauseInSlotMs: 1 });
    const [done, moved] = await Promise.all([run.done, moving]);
    await traffic.stop();
    expect(moved.moved.length).toBe(3000);
    expect(done.code, done.stderr).toBe(0);
    const result = jsonOf(done);
    expect(result.counts.rescanned ?? 0).toBeGreaterThan(0);
    expect(String(result.topologyChanges)).toMatch(/rescanned by slot/);
    await ks.expectCopied();
    for (const s of moved.moved.slice(0, 5)) expect(await slotOwnerPort(c, s)).toBe(to);
  }, 120_000);

  it("a slot that stays on the move is never called visited: exit 3 naming it, then owed", async () => {
    const ks = await keyspace("stuck-slot");
    const [from, to] = await masterPorts(c);
    let opened = (_: number) => undefined as void;
    const isOpen = new Promise<number>((r) => (opened = r));
    let release = () => undefined as void;
    const held = new Promise<void>((r) => (release = r));
    // A slot of `from` holding one of the jobs, left MIGRATING/IMPORTING (its keys not
    // yet moved) until the test says.
    const job = ks.jobs.find(
      (j) => redis.slots[calculateSlot(ks.oldKey(j))]?.[0] === `127.0.0.1:${from}`,
    )!;
    const moving = reshard(c, {
      fromPort: from!,
      toPort: to!,
      slots: [calculateSlot(ks.oldKey(job))],
      onSlotOpened: (slot) => {
        opened(slot);
        return held;
      },
    });
    const slot = await isOpen;
    try {
      const stuck = await runCli([...ks.args("backfill"), "--settle-timeout", "3s"]);
      expect(stuck.code, stuck.stderr).toBe(3);
      expect(stuck.stderr).toMatch(
        new RegExp(
          `slots stayed on the move longer than --settle-timeout: 1 slot \\(${slot}\\) on the move.*not proven visited`,
        ),
      );
      const saved = await checkpointProgress(redis, `${ks.p}jm:backfill:checkpoint`);
      expect(saved.status).not.toBe("completed");
    } finally {
      release();
      await moving;
    }
    const again = await runCli(ks.args("backfill", "--json"));
    expect(again.code, again.stderr).toBe(0);
    expect(jsonOf(again).counts.rescanned ?? 0).toBeGreaterThan(0);
    await ks.expectCopied();
  }, 90_000);

  it("verify across a reshard finds every divergence planted in the moving slots", async () => {
    const ks = await keyspace("reshard-verify");
    expect((await runCli(ks.args("backfill"))).code).toBe(0);
    const [, from, to] = await masterPorts(c);
    // 2000 of the source's slots move: plant 100 divergences among their keys.
    const owned = new Set<number>();
    for (let s = 0; s < 16384 && owned.size < 2000; s++)
      if (redis.slots[s]?.[0] === `127.0.0.1:${from}`) owned.add(s);
    const planted = ks.quiet.filter((j) => owned.has(calculateSlot(ks.oldKey(j)))).slice(0, 100);
    expect(planted).toHaveLength(100);
    for (const j of planted) await redis.hset(ks.newKey(j), "status", "tampered");
    const traffic = ks.traffic();
    const report = tempFile("reshard.jsonl");
    const run = await startAt(ks, "verify", 300, [
      "--rate",
      "600",
      "--recheck-delay",
      "10",
      "--report",
      report,
      "--no-orphans",
    ]);
    const moving = reshard(c, {
      fromPort: from!,
      toPort: to!,
      slots: [...owned],
      pauseInSlotMs: 1,
    });
    const [done] = await Promise.all([run.done, moving]);
    await traffic.stop();
    expect(done.code, done.stderr).toBe(1);
    const found = new Set(
      readReport(report)
        .filter((r) => r.status === "confirmed")
        .map((r) => r.oldKey),
    );
    const missed = planted.map(ks.oldKey).filter((k) => !found.has(k));
    expect(missed, done.stderr + done.stdout).toEqual([]);
    const quietKeys = new Set(ks.quiet.map(ks.oldKey));
    const planted_ = new Set(planted.map(ks.oldKey));
    expect([...found].filter((k) => quietKeys.has(k) && !planted_.has(k))).toEqual([]);
  }, 120_000);
});
