import type { Cluster, Redis } from "ioredis";

/** A client that routes by key: a single instance, or a Cluster. */
export type RedisClient = Redis | Cluster;
