/**
 * The topology helpers of test/support/clusterOps.ts against a real Cluster of its own
 * (3 masters, one replica each, no persistence): each change keeps every key readable and
 * leaves the cluster stable, and the Cluster client keeps working through it.
 */
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis } from "ioredis";
import { connect as netConnect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisCluster, type RedisClusterHandle } from "../../tools/redisProcess.js";
import {
  clusterStable,
  killMaster,
  masterPorts,
  nodeView,
  plannedFailover,
  reshard,
  slotOwnerPort,
  unstableReason,
  waitClusterStable,
} from "../support/clusterOps.js";
import { uniquePrefix } from "../support/targets.js";

const KEY_COUNT = 3000;

type Hash = Record<string, string>;

describe("cluster topology changes under a live Cluster client", () => {
  let cluster: RedisClusterHandle;
  /** Every key written and what it must hold; traffic updates it as it writes. */
  const expected = new Map<string, Hash>();
  /** The written keys by slot. */
  const keysBySlot = new Map<number, string[]>();
  const opened: (Cluster | Redis)[] = [];

  /** A Cluster client that may start from any node (the first may be down). */
  function clusterClient(): Cluster {
    const seeds = [...cluster.servers, ...cluster.replicaServers].map((s) => ({
      host: s.host,
      port: s.port,
    }));
    const c = new Cluster(seeds);
    // Connection errors to a killed node are expected; failed commands are what we assert.
    c.on("error", () => {});
    c.on("node error", () => {});
    opened.push(c);
    return c;
  }

  function nodeClient(port: number): Redis {
    const c = new Redis({ host: "127.0.0.1", port });
    // It reconnects on its own if its node is killed; the test asserts on commands.
    c.on("error", () => {});
    opened.push(c);
    return c;
  }

  /** Keys whose hash differs from what it must be (missing ones included). */
  async function mismatches(redis: Cluster): Promise<string[]> {
    const bad: string[] = [];
    await Promise.all(
      [...expected].map(async ([key, want]) => {
        const got = await redis.hgetall(key);
        if (JSON.stringify(sorted(got)) !== JSON.stringify(sorted(want))) bad.push(key);
      }),
    );
    return bad;
  }

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicas: 1 });
    const p = uniquePrefix("cluster-ops");
    for (let i = 0; i < KEY_COUNT; i++) {
      const key = `${p}job:${i}`;
      expected.set(key, { id: String(i), status: "pending", payload: `{"n":${i}}` });
      const slot = calculateSlot(key);
      keysBySlot.set(slot, [...(keysBySlot.get(slot) ?? []), key]);
    }
    const redis = clusterClient();
    await Promise.all([...expected].map(([key, hash]) => redis.hset(key, hash)));
    redis.disconnect();
    expect(await mismatches(clusterClient())).toEqual([]);
  });

  afterAll(async () => {
    for (const c of opened) c.disconnect();
    await cluster?.stop();
  });

  it("starts stable, with 3 masters", async () => {
    expect(await unstableReason(cluster)).toBeUndefined();
    expect(await masterPorts(cluster)).toEqual(cluster.servers.map((s) => s.port).sort());
  });

  it("plannedFailover: the replica takes over the master's slots and every key reads the same", async () => {
    const oldMaster = cluster.servers[0]!.port;
    const replica = cluster.replicasOf.get(oldMaster)![0]!.port;
    const slot = firstSlotWithKeys(keysBySlot, await nodeView(oldMaster));
    const redis = clusterClient();
    expect(await mismatches(redis)).toEqual([]);

    const { newMasterPort } = await plannedFailover(cluster, oldMaster);

    expect(newMasterPort).toBe(replica);
    expect(await slotOwnerPort(cluster, slot)).toBe(replica);
    expect(await nodeClient(oldMaster).info("replication")).toMatch(
      new RegExp(
        `^role:slave\\r?\\nmaster_host:127\\.0\\.0\\.1\\r?\\nmaster_port:${replica}\\r?$`,
        "m",
      ),
    );
    expect(await clusterStable(cluster)).toBe(true);
    // The client that knew the old map follows MOVED, and writes land on the new master.
    expect(await mismatches(redis)).toEqual([]);
    const key = keysBySlot.get(slot)![0]!;
    await redis.hset(key, "status", "after-failover");
    expected.get(key)!.status = "after-failover";
    expect(await nodeClient(replica).hget(key, "status")).toBe("after-failover");
  });

  it("reshard: 2000 slots move under live traffic, which follows ASK and MOVED without an error", async () => {
    const [from, to] = [cluster.servers[1]!.port, cluster.servers[2]!.port];
    const source = nodeClient(from);
    const target = nodeClient(to);
    const askingBefore = await commandCalls(target, "asking");

    // Traffic favours the keys of the slot being moved, so it meets a half-moved slot.
    let hot: string[] = [];
    const traffic = startTraffic(clusterClient(), expected, () => hot);
    const started = Date.now();
    const result = await reshard(cluster, {
      fromPort: from,
      toPort: to,
      slots: 2000,
      keysPerMigrate: 1,
      pauseMs: 1,
      pauseInSlotMs: 3,
      onSlotOpened: (slot) => {
        hot = keysBySlot.get(slot) ?? [];
      },
      onSlotMoved: () => {
        hot = [];
      },
    });
    const tookMs = Date.now() - started;
    const stats = await traffic.stop();

    expect(tookMs).toBeGreaterThan(1000);
    expect(result.aborted).toBe(false);
    expect(result.moved).toHaveLength(2000);
    const keysInMoved = result.moved.reduce((n, s) => n + (keysBySlot.get(s)?.length ?? 0), 0);
    expect(keysInMoved).toBeGreaterThan(100);
    // The traffic only updates existing keys, so MIGRATE moved exactly the seeded ones.
    expect(result.keysMoved).toBe(keysInMoved);
    expect(stats.errors).toEqual([]);
    expect(stats.ops).toBeGreaterThan(200);
    expect(stats.hotOps).toBeGreaterThan(20);
    // The client was sent to the target with ASK (it sends ASKING before the retry).
    expect(await commandCalls(target, "asking")).toBeGreaterThan(askingBefore);

    expect(await clusterStable(cluster)).toBe(true);
    const count = (r: Redis) => countKeysInSlots(r, result.moved);
    expect(await count(target)).toBe(keysInMoved);
    expect(await count(source)).toBe(0);
    expect(await slotOwnerPort(cluster, result.moved[0]!)).toBe(to);
    expect(await mismatches(clusterClient())).toEqual([]);
    console.log(
      `reshard: ${result.moved.length} slots, ${result.keysMoved} keys in ${tookMs} ms; ` +
        `traffic ${stats.ops} ops (${stats.hotOps} on a moving slot); ` +
        `retried errors: ${JSON.stringify(result.retriedErrors)}`,
    );
  });

  it("reshard stops early on abort and leaves the cluster stable", async () => {
    const [from, to] = [cluster.servers[2]!.port, cluster.servers[1]!.port];
    const lowest = (await nodeView(from)).self.slots.slice(0, 11);
    const stop = new AbortController();
    let movedSoFar = 0;
    const result = await reshard(cluster, {
      fromPort: from,
      toPort: to,
      slots: 1000,
      pauseMs: 2,
      signal: stop.signal,
      // Aborted once 10 are done: the 11th is never opened.
      onSlotMoved: () => {
        if (++movedSoFar === 10) stop.abort();
      },
    });
    expect(result.aborted).toBe(true);
    expect(result.moved).toEqual(lowest.slice(0, 10));
    expect(await slotOwnerPort(cluster, lowest[9]!)).toBe(to);
    expect(await slotOwnerPort(cluster, lowest[10]!)).toBe(from);
    expect(await clusterStable(cluster)).toBe(true);
    expect(await mismatches(clusterClient())).toEqual([]);
  });

  it("reshard retries a MIGRATE that timed out (IOERR) and finishes the slot", async () => {
    // The slot with the most keys (1 or 2: CRC16 spreads these names evenly).
    const [slot] = [...keysBySlot].reduce((a, b) => (b[1].length > a[1].length ? b : a));
    const from = await slotOwnerPort(cluster, slot);
    const to = (await masterPorts(cluster)).find((p) => p !== from)!;
    const keys = keysBySlot.get(slot)!;
    const target = nodeClient(to);

    const result = await reshard(cluster, {
      fromPort: from,
      toPort: to,
      slots: [slot],
      migrateTimeoutMs: 50,
      // The target runs no write for 400 ms: the first MIGRATEs time out (IOERR), but
      // their RESTOREs run once it resumes.
      onSlotOpened: async () => {
        await target.call("CLIENT", "PAUSE", 400, "WRITE");
      },
    });

    expect(result.moved).toEqual([slot]);
    expect(result.keysMoved).toBe(keys.length);
    expect(result.retriedErrors.length).toBeGreaterThan(0);
    expect(result.retriedErrors.join("\n")).toMatch(/IOERR/);
    expect(Number(await target.call("CLUSTER", "COUNTKEYSINSLOT", slot))).toBe(keys.length);
    expect(await clusterStable(cluster)).toBe(true);
    expect(await mismatches(clusterClient())).toEqual([]);
    console.log(`reshard retry: ${JSON.stringify(result.retriedErrors)}`);
  });

  /**
   * Two masters, and a slot the first owns with one key: with two, the other key moves
   * while the first stops the slot (MIGRATE of a batch moves every key it can), and a
   * test that then puts the slot back on the source would leave that key on the target.
   */
  async function slotToMove(): Promise<{ from: number; to: number; slot: number; key: string }> {
    const [from, to] = await masterPorts(cluster);
    const slot = firstSlotWithKeys(keysBySlot, await nodeView(from!), 1);
    return { from: from!, to: to!, slot, key: keysBySlot.get(slot)![0]! };
  }

  /** Run a command on the target for a key of a slot it is importing. */
  async function onImporter(r: Redis, command: string, ...args: (string | Buffer | number)[]) {
    const replies =
      (await r
        .pipeline()
        .asking()
        .call(command, ...args)
        .exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
  }

  it("reshard finds a key already on the target with the same value (a MIGRATE whose reply was lost): REPLACE", async () => {
    const { from, to, slot, key } = await slotToMove();
    const [source, target] = [nodeClient(from), nodeClient(to)];
    const result = await reshard(cluster, {
      fromPort: from,
      toPort: to,
      slots: [slot],
      // As if an earlier MIGRATE had restored the key there but its reply never came.
      onSlotOpened: async () => {
        const payload = await source.dumpBuffer(key);
        await onImporter(target, "RESTORE", key, 0, payload!);
      },
    });
    expect(result.moved).toEqual([slot]);
    expect(result.retriedErrors.join("\n")).toMatch(/BUSYKEY.*sent again with REPLACE/);
    expect(Number(await source.call("CLUSTER", "COUNTKEYSINSLOT", slot))).toBe(0);
    expect(await clusterStable(cluster)).toBe(true);
    expect(await mismatches(clusterClient())).toEqual([]);
  });

  it("reshard never overwrites a different value on the target: it stops with the slot left open", async () => {
    const { from, to, slot, key } = await slotToMove();
    const [source, target] = [nodeClient(from), nodeClient(to)];
    const run = reshard(cluster, {
      fromPort: from,
      toPort: to,
      slots: [slot],
      onSlotOpened: () => onImporter(target, "HSET", key, "status", "other"),
    });
    await expect(run).rejects.toThrow(/differs between source and target.*left open/);
    expect(await unstableReason(cluster)).toMatch(/open slots/);
    // Both copies kept; the source's is still the one clients read.
    expect(await source.hgetall(key)).toEqual(expected.get(key));

    // Repair as a person would: drop the stray copy, close the slot on both sides.
    await onImporter(target, "DEL", key);
    await target.call("CLUSTER", "SETSLOT", slot, "STABLE");
    await source.call("CLUSTER", "SETSLOT", slot, "STABLE");
    await waitClusterStable(cluster);
    expect(await slotOwnerPort(cluster, slot)).toBe(from);
    expect(await mismatches(clusterClient())).toEqual([]);
  });

  it("killMaster: its replica is promoted with every key, and the restarted node rejoins as its replica", async () => {
    const victim = cluster.servers[2]!.port;
    const replica = cluster.replicasOf.get(victim)![0]!.port;
    const slot = firstSlotWithKeys(keysBySlot, await nodeView(victim));

    const { newMasterPort, promotedAfterMs, restart } = await killMaster(cluster, victim);

    expect(newMasterPort).toBe(replica);
    // The earliest a replica can take over: no word from the master for 5 s (node timeout)
    // since its last message (at most ~2.5 s before the kill), then a 0.5 s election delay.
    expect(promotedAfterMs).toBeGreaterThanOrEqual(3000);
    expect(await connectError(victim)).toBe("ECONNREFUSED");
    expect(await slotOwnerPort(cluster, slot)).toBe(replica);
    expect(await clusterStable(cluster)).toBe(true);
    expect(await mismatches(clusterClient())).toEqual([]);

    const restartedAt = Date.now();
    await restart();
    const rejoinedMs = Date.now() - restartedAt;
    const back = nodeClient(victim);
    expect(await back.info("replication")).toMatch(
      new RegExp(`^master_port:${replica}\\r?\\nmaster_link_status:up\\r?$`, "m"),
    );
    // Started with no data (no persistence): what it holds now came from its new master.
    expect(await back.dbsize()).toBe(await nodeClient(replica).dbsize());
    await back.call("READONLY");
    const key = keysBySlot.get(slot)![0]!;
    expect(sorted(await back.hgetall(key))).toEqual(sorted(expected.get(key)!));
    expect(await clusterStable(cluster)).toBe(true);
    console.log(`killMaster: promoted after ${promotedAfterMs} ms, rejoined in ${rejoinedMs} ms`);
  });
});

/** Its fields in name order, for comparing two hashes. */
function sorted(hash: Hash): [string, string][] {
  return Object.entries(hash).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The lowest slot the node owns that holds written keys. */
function firstSlotWithKeys(
  keysBySlot: ReadonlyMap<number, string[]>,
  view: { self: { slots: number[] } },
  keys?: number,
): number {
  const slot = view.self.slots.find(
    (s) => keysBySlot.has(s) && (keys === undefined || keysBySlot.get(s)!.length === keys),
  );
  if (slot === undefined) throw new Error("the node holds none of the written keys");
  return slot;
}

/** The error code of a TCP connection to the port, or "connected". */
function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** How many times the node has run `command` (INFO commandstats). */
async function commandCalls(r: Redis, command: string): Promise<number> {
  const stats = await r.info("commandstats");
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(stats)?.[1] ?? 0);
}

/** Keys the node holds in these slots (CLUSTER COUNTKEYSINSLOT, summed). */
async function countKeysInSlots(r: Redis, slots: number[]): Promise<number> {
  const pipeline = r.pipeline();
  for (const s of slots) pipeline.call("CLUSTER", "COUNTKEYSINSLOT", s);
  const replies = (await pipeline.exec()) ?? [];
  return replies.reduce((n, [err, count]) => {
    if (err) throw err;
    return n + Number(count);
  }, 0);
}

interface TrafficStats {
  ops: number;
  /** Ops on a key of the slot being moved at the time. */
  hotOps: number;
  errors: string[];
}

/**
 * One loop of application traffic on existing keys until stop(): HSET a counter into a key
 * and read it back, every other op on a key of `hot()` if any. Each write is recorded in
 * `expected`; any failure or wrong read is an error.
 */
function startTraffic(
  redis: Cluster,
  expected: Map<string, Hash>,
  hot: () => string[],
): { stop: () => Promise<TrafficStats> } {
  const keys = [...expected.keys()];
  const stats: TrafficStats = { ops: 0, hotOps: 0, errors: [] };
  let running = true;
  const pick = (list: string[]) => list[Math.floor(Math.random() * list.length)]!;
  const loop = (async () => {
    while (running) {
      const hotKeys = hot();
      const useHot = hotKeys.length > 0 && stats.ops % 2 === 0;
      const key = useHot ? pick(hotKeys) : pick(keys);
      const value = String(stats.ops);
      try {
        await redis.hset(key, "touched", value);
        expected.get(key)!.touched = value;
        const got = await redis.hget(key, "touched");
        if (got !== value) stats.errors.push(`${key}: read ${got}, wrote ${value}`);
      } catch (err) {
        stats.errors.push(`${key}: ${String(err)}`);
      }
      stats.ops++;
      if (useHot) stats.hotOps++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return stats;
    },
  };
}
