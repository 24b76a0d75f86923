/**
 * Real redis-server processes for tests, the demo and the benchmark. One import point;
 * a single server lives in redisServer.ts, the Cluster built from them in redisCluster.ts.
 */
export { findFreePort, startRedisServer } from "./redisServer.js";
export type { RedisServerHandle, RedisServerOptions } from "./redisServer.js";
export { startRedisCluster } from "./redisCluster.js";
export type { RedisClusterHandle, RedisClusterOptions } from "./redisCluster.js";
export { startRedisSentinel } from "./redisSentinel.js";
export type { RedisSentinelHandle, RedisSentinelOptions } from "./redisSentinel.js";
