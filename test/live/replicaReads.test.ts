import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startRedisServer, type RedisServerHandle } from "../../tools/redisProcess.js";
import { seedOldJobs, type JobRef } from "../support/appTraffic.js";
import { waitFor } from "../support/checkpoint.js";
import { startReplicationProxy, type ReplicationProxy } from "../support/replicationProxy.js";
import { jsonOf, prefixArgs, runCli } from "../support/cli.js";
import { uniquePrefix } from "../support/targets.js";

/** Script calls (EVAL and EVALSHA) a server has run so far (INFO commandstats). */
async function scriptCalls(r: Redis): Promise<number> {
  const stats = await r.info("commandstats");
  const calls = (cmd: string) =>
    Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  return calls("eval") + calls("evalsha");
}

// Replicas are read from on a single instance only (a Cluster reads its masters), so this
// file has no Cluster twin; it starts a master and a replica of its own.
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
