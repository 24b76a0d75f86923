/**
 * One single-instance redis-server and one 3-master Cluster for the whole run: starting a
 * Cluster takes ~2 s (a fresh master waits before it declares itself writable), too slow
 * per file. Tests isolate themselves with uniquePrefix() instead of separate servers.
 */
import type { TestProject } from "vitest/node";
import { startRedisCluster, startRedisServer } from "../tools/redisProcess.js";

declare module "vitest" {
  export interface ProvidedContext {
    redisSingleUrl: string;
    redisClusterUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [single, cluster] = await Promise.allSettled([startRedisServer(), startRedisCluster()]);
  if (single.status === "rejected" || cluster.status === "rejected") {
    // Whichever did start must not outlive the failed setup.
    if (single.status === "fulfilled") await single.value.stop();
    if (cluster.status === "fulfilled") await cluster.value.stop();
    throw single.status === "rejected" ? single.reason : (cluster as PromiseRejectedResult).reason;
  }
  project.provide("redisSingleUrl", single.value.url);
  project.provide("redisClusterUrl", cluster.value.url);
  return async () => {
    await Promise.all([single.value.stop(), cluster.value.stop()]);
  };
}
