/**
 * Proves the test infrastructure itself, so that a failing migration test can be trusted to
 * blame the migration: the servers, the Cluster topology and the app-traffic generator.
 */
import { isUtf8 } from "node:buffer";
import { connect as tcpConnect } from "node:net";
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisCluster, type RedisClusterHandle } from "../../tools/redisProcess.js";
import {
  AppQueue,
  readHashBuffers,
  sameHash,
  seedOldJobs,
  startTraffic,
} from "../support/appTraffic.js";
import type { JobRef } from "../support/appTraffic.js";
import { connect, targets, uniquePrefix } from "../support/targets.js";
import type { RedisClient } from "../support/targets.js";

describe.each(targets())("harness on %s", (target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  const keysFor = (prefix: string) => ({
    oldPrefix: `${prefix}ai:jobs:`,
    newPrefix: `${prefix}ai:job:`,
    queueKey: `${prefix}ai:queue:pending`,
  });
  const newJob = (job_id: string, workspace_id: string) => ({
    job_id,
    workspace_id,
    action_provider: "google",
    action_name: "gmail.send",
    params: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    actor_id: "user-1",
  });

  it("writes and reads back bytes that are not UTF-8", async () => {
    const key = `${uniquePrefix("bytes")}probe`;
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x41]);
    await redis.set(key, bytes);
    expect(await redis.getBuffer(key)).toEqual(bytes);
  });

  it("enqueue writes both keys when the flag is on, the old key only when off", async () => {
    const keys = keysFor(uniquePrefix("enqueue"));
    const app = new AppQueue({ redis, ...keys, flagOn: true });
    await app.enqueue(newJob("job-on", "ws-1"));
    app.flagOn = false;
    await app.enqueue(newJob("job-off", "ws-1"));

    const onOld = await readHashBuffers(redis, app.oldKey("job-on"));
    expect(onOld.get("status")?.toString()).toBe("pending");
    expect(onOld.get("params")).toEqual(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(sameHash(onOld, await readHashBuffers(redis, app.newKey("ws-1", "job-on")))).toBe(true);
    expect(await redis.exists(app.oldKey("job-off"))).toBe(1);
    expect(await redis.exists(app.newKey("ws-1", "job-off"))).toBe(0);
    expect(await redis.lrange(keys.queueKey, 0, -1)).toEqual(["job-on", "job-off"]);
  });

  it("updateStatus never creates a missing new key, and updates one that exists", async () => {
    const keys = keysFor(uniquePrefix("update"));
    const app = new AppQueue({ redis, ...keys, flagOn: true });
    const oldOnly = (
      await seedOldJobs(redis, {
        oldPrefix: keys.oldPrefix,
        count: 1,
        workspaces: 1,
      })
    )[0]!;
    const result = Buffer.from([0x22, 0xff, 0xfe, 0x22]);
    await app.updateStatus(oldOnly.job_id, oldOnly.workspace_id, "running");
    await app.updateStatus(oldOnly.job_id, oldOnly.workspace_id, "completed", result);

    const old = await readHashBuffers(redis, app.oldKey(oldOnly.job_id));
    expect(old.get("status")?.toString()).toBe("completed");
    expect(old.get("result")).toEqual(result);
    expect(old.has("finished_at")).toBe(true);
    expect(await redis.exists(app.newKey(oldOnly.workspace_id, oldOnly.job_id))).toBe(0);

    await app.enqueue(newJob("job-both", "ws-2"));
    await app.updateStatus("job-both", "ws-2", "failed", result);
    const both = await readHashBuffers(redis, app.newKey("ws-2", "job-both"));
    expect(both.get("status")?.toString()).toBe("failed");
    expect(sameHash(both, await readHashBuffers(redis, app.oldKey("job-both")))).toBe(true);
    expect(await redis.lrange(keys.queueKey, 0, -1)).toEqual(["job-both"]);
  });

  it("seedOldJobs writes old-only jobs, some with TTLs and non-UTF-8 params", async () => {
    const { oldPrefix, newPrefix } = keysFor(uniquePrefix("seed"));
    const jobs = await seedOldJobs(redis, { oldPrefix, count: 1200, workspaces: 4 });
    expect(new Set(jobs.map((j) => j.workspace_id))).toEqual(
      new Set(["ws-0", "ws-1", "ws-2", "ws-3"]),
    );

    const sample = jobs.slice(0, 12);
    const ttls = await Promise.all(sample.map((j) => redis.pttl(`${oldPrefix}${j.job_id}`)));
    expect(ttls.map((ttl) => ttl > 0)).toEqual(sample.map((_, i) => i % 4 === 0));
    const params = await Promise.all(
      sample.map((j) => redis.hgetBuffer(`${oldPrefix}${j.job_id}`, "params")),
    );
    expect(params.map((p) => isUtf8(p!))).toEqual(sample.map((_, i) => i % 3 !== 0));
    const exists = await Promise.all(jobs.map((j) => redis.exists(`${oldPrefix}${j.job_id}`)));
    expect(exists.every((n) => n === 1)).toBe(true);
    const copies = jobs.map((j) => redis.exists(`${newPrefix}${j.workspace_id}:${j.job_id}`));
    expect((await Promise.all(copies)).some((n) => n !== 0)).toBe(false);
  });

  it("traffic updates old-only jobs without creating new keys and dual-writes new jobs", async () => {
    const keys = keysFor(uniquePrefix("traffic"));
    const seeded = await seedOldJobs(redis, {
      oldPrefix: keys.oldPrefix,
      count: 20,
      workspaces: 3,
    });
    const traffic = startTraffic({
      redis,
      ...keys,
      flagOn: true,
      jobs: seeded,
      concurrency: 4,
      newJobsPerSecond: 40,
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const stats = await traffic.stop();

    expect(stats.errors, String(stats.lastError)).toBe(0);
    expect(stats.updates).toBeGreaterThan(20);
    expect(stats.enqueues).toBeGreaterThan(5);
    const newKey = (j: JobRef) => traffic.app.newKey(j.workspace_id, j.job_id);
    const seededCopies = await Promise.all(seeded.map((j) => redis.exists(newKey(j))));
    expect(seededCopies.every((n) => n === 0)).toBe(true);
    for (const job of stats.enqueued) {
      const old = await readHashBuffers(redis, traffic.app.oldKey(job.job_id));
      expect(sameHash(old, await readHashBuffers(redis, newKey(job)))).toBe(true);
    }
    const results = await Promise.all(
      seeded.map((j) => redis.hgetBuffer(traffic.app.oldKey(j.job_id), "result")),
    );
    expect(results.some((r) => r !== null && !isUtf8(r))).toBe(true);
    expect(await redis.llen(keys.queueKey)).toBe(stats.enqueues);
  });
});

describe("harness cluster topology", () => {
  const target = targets().find((t) => t.cluster)!;
  let cluster: Cluster;
  beforeAll(() => {
    cluster = connect(target) as Cluster;
  });
  afterAll(async () => {
    await cluster.quit();
  });

  it("has 3 masters and spreads one test's keys over all of them", async () => {
    const prefix = uniquePrefix("spread");
    await seedOldJobs(cluster, { oldPrefix: prefix, count: 90, workspaces: 3 });
    const masters = cluster.nodes("master");
    expect(masters).toHaveLength(3);

    const perMaster = await Promise.all(
      masters.map(async (node) => {
        let cursor = "0";
        let found = 0;
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
          cursor = next;
          found += keys.length;
        } while (cursor !== "0");
        return found;
      }),
    );
    expect(
      perMaster.every((n) => n > 0),
      `keys per master: ${perMaster}`,
    ).toBe(true);
    expect(perMaster.reduce((a, b) => a + b)).toBe(90);
  });
});

/** true once nothing listens on the port: the connection is refused. */
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// A Cluster of its own: the shared one (test/globalSetup.ts) has no replicas.
describe("harness cluster with replicas", () => {
  let handle: RedisClusterHandle;
  let cluster: Cluster;
  const sorted = (ports: (number | undefined)[]) => [...ports].sort((a, b) => a! - b!);
  const ports = (nodes: Redis[]) => sorted(nodes.map((n) => n.options.port));
  beforeAll(async () => {
    handle = await startRedisCluster({ masters: 3, replicas: 1 });
    cluster = new Cluster([handle.nodes[0]!], { lazyConnect: true });
    await cluster.connect();
  });
  afterAll(async () => {
    cluster?.disconnect();
    await handle?.stop();
  });

  it("has 3 masters and 3 replicas, each following its own master", async () => {
    const masterPorts = handle.servers.map((s) => s.port);
    expect(handle.nodes.map((n) => n.port)).toEqual(masterPorts);
    expect(handle.replicaServers).toHaveLength(3);
    expect(sorted([...handle.replicasOf.keys()])).toEqual(sorted(masterPorts));
    expect([...handle.replicasOf.values()].flat()).toEqual(handle.replicaServers);

    for (const [masterPort, [replica, ...more]] of handle.replicasOf) {
      expect(more).toEqual([]);
      if (!replica) throw new Error(`master ${masterPort} has no replica`);
      const r = new Redis({ host: replica.host, port: replica.port });
      try {
        const replication = await r.info("replication");
        expect(replication).toContain("role:slave");
        expect(replication).toContain(`master_port:${masterPort}`);
        expect(replication).toContain("master_link_status:up");
      } finally {
        r.disconnect();
      }
    }
    // What a fresh Cluster client found: the same masters, and the replicas to read from.
    expect(ports(cluster.nodes("master"))).toEqual(sorted(masterPorts));
    expect(ports(cluster.nodes("slave"))).toEqual(sorted(handle.replicaServers.map((s) => s.port)));
  });

  it("serves a key written through the Cluster client from the replica of its slot's master", async () => {
    const prefix = uniquePrefix("replica-read");
    const slots = await cluster.cluster("SLOTS");
    const ownerPort = (slot: number) =>
      slots.find(([first, last]) => first <= slot && slot <= last)![2]![1];
    // One key on each master.
    const keys = new Map<number, string>();
    for (let n = 0; keys.size < 3; n++) {
      const key = `${prefix}{${n}}`;
      const port = ownerPort(calculateSlot(key));
      if (!keys.has(port)) keys.set(port, key);
    }

    for (const [masterPort, key] of keys) {
      await cluster.set(key, `value of ${key}`);
      // On the connection that wrote: it counts the replicas that have the SET.
      const master = cluster.nodes("master").find((n) => n.options.port === masterPort)!;
      expect(await master.wait(1, 5000)).toBe(1);

      const [replica] = handle.replicasOf.get(masterPort)!;
      if (!replica) throw new Error(`master ${masterPort} has no replica`);
      const r = new Redis({ host: replica.host, port: replica.port });
      try {
        // Not READONLY yet: the replica sends the client to its master.
        await expect(r.get(key)).rejects.toThrow(
          `MOVED ${calculateSlot(key)} 127.0.0.1:${masterPort}`,
        );
        await r.call("READONLY");
        expect(await r.get(key)).toBe(`value of ${key}`);
      } finally {
        r.disconnect();
      }
    }
  });

  it("stop() stops all 6 processes: every port refuses connections", async () => {
    cluster.disconnect();
    const servers = [...handle.servers, ...handle.replicaServers];
    expect(servers).toHaveLength(6);
    const pids = servers.map((s) => s.pid);
    expect(pids.every(processAlive)).toBe(true);
    expect(await Promise.all(servers.map((s) => refusesConnections(s.port)))).toEqual(
      servers.map(() => false),
    );

    await handle.stop();
    expect(await Promise.all(servers.map((s) => refusesConnections(s.port)))).toEqual(
      servers.map(() => true),
    );
    expect(pids.filter(processAlive)).toEqual([]);
  });
});
