import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import {
  startRedisCluster,
  startRedisServer,
  type RedisClusterHandle,
  type RedisServerHandle,
} from "../../tools/redisProcess.js";
import { seedOldJobs, type JobRef } from "../support/appTraffic.js";
import { waitFor } from "../support/checkpoint.js";
import { startReplicationProxy, type ReplicationProxy } from "../support/replicationProxy.js";
import { stall } from "../support/serverLoad.js";
import { jsonOf, prefixArgs, runCli, startCli } from "../support/cli.js";
import { uniquePrefix } from "../support/targets.js";

/** Script calls (EVAL and EVALSHA) a server has run so far (INFO commandstats). */
async function scriptCalls(r: Redis): Promise<number> {
  const stats = await r.info("commandstats");
  const calls = (cmd: string) =>
    Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  return calls("eval") + calls("evalsha");
}

// Servers of its own: a master with a replica (through a relay that can hold its stream
// back), and a Cluster whose masters each have a replica.
describe("verify --read-from replicas on a single instance with a replica", () => {
  let master: RedisServerHandle;
  let replica: RedisServerHandle;
  let onMaster: Redis;
  let onReplica: Redis;
  let proxy: ReplicationProxy;
  beforeAll(async () => {
    master = await startRedisServer({ extraArgs: ["--repl-diskless-sync-delay", "0"] });
    // Through a relay that can hold back the master's stream; writable, so a test can
    // also put stale data on the replica directly.
    proxy = await startReplicationProxy("127.0.0.1", master.port);
    replica = await startRedisServer({
      extraArgs: ["--replicaof", "127.0.0.1", String(proxy.port), "--replica-read-only", "no"],
    });
    onMaster = new Redis(master.url);
    onReplica = new Redis(replica.url);
    await waitFor("the replica's link", async () =>
      (await onReplica.info("replication")).includes("master_link_status:up"),
    );
  });
  afterAll(async () => {
    onMaster.disconnect();
    onReplica.disconnect();
    await Promise.all([replica.stop(), master.stop(), proxy.close()]);
  });

  async function backfilled(label: string): Promise<{ p: string; jobs: JobRef[] }> {
    const p = uniquePrefix(label);
    const jobs = await seedOldJobs(onMaster, {
      oldPrefix: `${p}ai:jobs:`,
      count: 300,
      workspaces: 3,
    });
    expect((await runCli(["backfill", "--redis-url", master.url, ...prefixArgs(p)])).code).toBe(0);
    await onMaster.wait(1, 5000);
    return { p, jobs };
  }
  const verify = (p: string) =>
    runCli([
      "verify",
      "--redis-url",
      master.url,
      ...prefixArgs(p),
      "--read-from",
      "replicas",
      "--recheck-delay",
      "10",
      "--no-orphans",
      "--json",
    ]);

  it("reads the pairs from the replica", async () => {
    const { p } = await backfilled("replica-reads");
    const replicaBefore = await scriptCalls(onReplica);
    const r = await verify(p);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOf(r).counts.checked).toBe(300);
    // Every pair-reading batch ran on the replica: at least one script call there.
    expect(await scriptCalls(onReplica)).toBeGreaterThan(replicaBefore);
  });

  it("does not take a pair for equal on a replica that has not applied its master's last writes", async () => {
    const { p, jobs } = await backfilled("replica-behind");
    const j = jobs[5]!;
    const masterBefore = await scriptCalls(onMaster);
    // The replica gets nothing more from its master: it still shows the pair equal.
    proxy.hold();
    onTestFinished(() => proxy.release());
    const newKey = `${p}ai:job:${j.workspace_id}:${j.job_id}`;
    await onMaster.hset(newKey, "status", "diverged");
    expect(await onReplica.hget(newKey, "status")).not.toBe("diverged");
    const r = await verify(p);
    expect(r.code, r.stderr).toBe(1);
    expect(jsonOf(r).counts.confirmed).toBe(1);
    // The batch waited a second for the replica, then read the master.
    expect(await scriptCalls(onMaster)).toBeGreaterThan(masterBefore);
  });

  it("does not confirm what only a lagging replica shows, and confirms what the master shows", async () => {
    const { p, jobs } = await backfilled("replica-lag");
    // Stale on the replica only (as if it had not received updates yet).
    for (const j of jobs.slice(0, 10))
      await onReplica.hset(
        `${p}ai:job:${j.workspace_id}:${j.job_id}`,
        "status",
        "stale-on-replica",
      );
    // A real divergence, on the master (and so on the replica too).
    const real = jobs[20]!;
    await onMaster.hset(`${p}ai:job:${real.workspace_id}:${real.job_id}`, "status", "diverged");
    await onMaster.wait(1, 5000);
    const r = await verify(p);
    expect(r.code, r.stderr).toBe(1);
    const result = jsonOf(r);
    expect(result.counts.confirmed).toBe(1);
    expect(result.counts.transient ?? 0).toBe(0);
    expect((result.divergences as { oldKey: string }[]).map((d) => d.oldKey)).toEqual([
      `${p}ai:jobs:${real.job_id}`,
    ]);
  });
});

describe("verify --read-from replicas on a 3-master Cluster, each master with a replica", () => {
  let cluster: RedisClusterHandle;
  let redis: Cluster;
  const direct: Redis[] = [];
  const at = (s: RedisServerHandle) => {
    const c = new Redis(s.url);
    direct.push(c);
    return c;
  };
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicas: 1 });
    redis = new Cluster([{ host: cluster.nodes[0]!.host, port: cluster.nodes[0]!.port }]);
  });
  afterAll(async () => {
    redis.disconnect();
    for (const c of direct) c.disconnect();
    await cluster.stop();
  });

  const scriptCallsOn = async (servers: readonly RedisServerHandle[]) =>
    (await Promise.all(servers.map((s) => scriptCalls(at(s))))).reduce((a, b) => a + b, 0);

  async function backfilled(label: string): Promise<{ p: string; jobs: JobRef[] }> {
    const p = uniquePrefix(label);
    const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 300, workspaces: 3 });
    const r = await runCli(["backfill", "--redis-url", cluster.url, ...prefixArgs(p)]);
    expect(r.code, r.stderr).toBe(0);
    // Every replica has what its master has.
    await Promise.all(cluster.servers.map((m) => at(m).wait(1, 5000)));
    return { p, jobs };
  }
  const verify = (p: string) =>
    runCli([
      "verify",
      ...["--redis-url", cluster.url, ...prefixArgs(p), "--read-from", "replicas"],
      ...["--recheck-delay", "10", "--no-orphans", "--json"],
    ]);

  it("reads the pairs from every master's replica and finds them equal", async () => {
    const { p } = await backfilled("cluster-replica-reads");
    const before = await Promise.all(cluster.replicaServers.map((s) => scriptCalls(at(s))));
    const r = await verify(p);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOf(r).counts.checked).toBe(300);
    expect(r.stderr).toMatch(/--read-from replicas: reading (127\.0\.0\.1:\d+(, )?){3} /);
    // Each replica ran pair-reading scripts (old and new keys live on every master).
    const after = await Promise.all(cluster.replicaServers.map((s) => scriptCalls(at(s))));
    after.forEach((n, i) => expect(n, cluster.replicaServers[i]!.url).toBeGreaterThan(before[i]!));
  });

  it("reads the masters instead of replicas that stop answering mid-run, and confirms a divergence made on a master", async () => {
    const p = uniquePrefix("cluster-replica-busy");
    const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 600, workspaces: 3 });
    expect((await runCli(["backfill", "--redis-url", cluster.url, ...prefixArgs(p)])).code).toBe(0);
    const j = jobs[7]!;
    await redis.hset(`${p}ai:job:${j.workspace_id}:${j.job_id}`, "status", "diverged");
    await Promise.all(cluster.servers.map((m) => at(m).wait(1, 5000)));
    const replicasBefore = await scriptCallsOn(cluster.replicaServers);
    // 12 batches of 50 over about 3 s; the replicas stop answering for 3 s once it reads them.
    const run = startCli([
      "verify",
      ...["--redis-url", cluster.url, ...prefixArgs(p), "--read-from", "replicas"],
      ...["--batch-size", "50", "--rate", "200", "--recheck-delay", "10", "--no-orphans", "--json"],
    ]);
    let stderr = "";
    run.child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    await waitFor("the replicas in use", async () =>
      stderr.includes("--read-from replicas: reading"),
    );
    const busy = cluster.replicaServers.map((s) => stall(at(s), 3000));
    const r = await run.done;
    await Promise.all(busy);
    expect(r.code, r.stderr).toBe(1);
    expect(jsonOf(r).counts.confirmed).toBe(1);
    // Each batch read on replicas costs 4 script calls there (its old keys on one, its new
    // keys on three). Read there throughout, 12 batches would cost 48; the batches already
    // under way when the replicas stopped answering (at most one per master) cost 12 at most.
    const onReplicas = (await scriptCallsOn(cluster.replicaServers)) - replicasBefore;
    expect(onReplicas - cluster.replicaServers.length, r.stderr).toBeLessThanOrEqual(12);
  });
});
