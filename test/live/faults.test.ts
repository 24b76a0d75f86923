import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startRedisCluster,
  startRedisServer,
  type RedisServerHandle,
} from "../../tools/redisProcess.js";
import { readHashBuffers, sameHash, seedOldJobs } from "../support/appTraffic.js";
import { checkpointProgress, waitFor } from "../support/checkpoint.js";
import { jsonOf, prefixArgs, runCli, startCli } from "../support/cli.js";
import { connect, uniquePrefix, type RedisClient } from "../support/targets.js";

interface Deployment {
  url: string;
  /** The server the test kills: the only one, or one master of the Cluster. */
  victim: RedisServerHandle;
  all: RedisServerHandle[];
  stop(): Promise<void>;
}

// Persistent (append-only) deployments of their own: the test kills a server.
const deployments = [
  {
    name: "single",
    cluster: false,
    start: async (): Promise<Deployment> => {
      const s = await startRedisServer({ persist: true });
      return { url: s.url, victim: s, all: [s], stop: () => s.stop() };
    },
  },
  {
    name: "cluster",
    cluster: true,
    start: async (): Promise<Deployment> => {
      const c = await startRedisCluster({ persist: true });
      return { url: c.url, victim: c.servers[1]!, all: c.servers, stop: () => c.stop() };
    },
  },
];

async function clusterHealthy(servers: RedisServerHandle[]): Promise<boolean> {
  for (const s of servers) {
    const r = new Redis({
      host: s.host,
      port: s.port,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    try {
      await r.connect();
      if (!/cluster_state:ok/.test(String(await r.call("CLUSTER", "INFO")))) return false;
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  }
  return true;
}

describe.each(deployments)("Redis restarted mid-run on $name", ({ name, cluster, start }) => {
  let d: Deployment;
  let redis: RedisClient;
  beforeAll(async () => {
    d = await start();
    redis = connect({ name: name as "single" | "cluster", url: d.url, cluster });
  });
  afterAll(async () => {
    redis.disconnect();
    await d.stop();
  });

  it("exits 3 with the checkpoint kept, and the next run completes from it", async () => {
    const p = uniquePrefix("restart");
    const jobs = await seedOldJobs(redis, {
      oldPrefix: `${p}ai:jobs:`,
      count: 3000,
      workspaces: 3,
    });
    const args = ["backfill", "--redis-url", d.url, ...prefixArgs(p), "--batch-size", "20"];
    // Nothing serves the slots while the victim is down (no replica): the run waits
    // --settle-timeout for the deployment to settle, then stops.
    const run = startCli([...args, "--rate", "600", "--settle-timeout", "2s"]);
    const checkpointKey = `${p}jm:backfill:checkpoint`;
    await waitFor(
      "progress",
      async () => (await checkpointProgress(redis, checkpointKey)).scanned >= 300,
    );
    const before = await checkpointProgress(redis, checkpointKey);
    await d.victim.kill("SIGKILL");

    const failed = await run.done;
    expect(failed.stderr).toMatch(/did not settle within --settle-timeout/);
    expect(failed.code).toBe(3);
    const lines = failed.stderr.trim().split("\n");
    expect(lines[lines.length - 1]).toMatch(
      /^jobs-migrate: .*the checkpoint is kept, run the same command again to resume/,
    );

    await d.victim.start();
    if (cluster) await waitFor("the cluster to heal", () => clusterHealthy(d.all), 30_000);
    const kept = await checkpointProgress(redis, checkpointKey);
    expect(kept.scanned).toBeGreaterThanOrEqual(before.scanned);
    expect(kept.scanned).toBeLessThan(3000);

    const second = await runCli([...args, "--json"]);
    expect(second.stderr).not.toMatch(/error/i);
    expect(second.code).toBe(0);
    expect(jsonOf(second).resumed).toBe(true);
    // The restarted server has a new hash seed: its saved cursor is void and it is
    // rescanned, where trusting the cursor would silently skip keys.
    expect(second.stderr).toContain(`127.0.0.1:${d.victim.port} restarted since the checkpoint`);
    for (const j of jobs) {
      const o = await readHashBuffers(redis, `${p}ai:jobs:${j.job_id}`);
      const n = await readHashBuffers(redis, `${p}ai:job:${j.workspace_id}:${j.job_id}`);
      expect(sameHash(o, n)).toBe(true);
    }
  });
});
