import type { Cluster, Redis } from "ioredis";

type RedisClient = Redis | Cluster;

/** What an operator asked of a run through `jobs-migrate ctl`. */
export interface ControlRequest {
  paused: boolean;
  rate?: number | undefined;
  batchSize?: number | undefined;
  by?: string | undefined;
  at?: string | undefined;
}

/** Read a run's control hash (absent: nothing asked). */
export async function readControl(client: RedisClient, key: string): Promise<ControlRequest> {
  const h = await client.hgetall(key);
  const num = (v: string | undefined) => (v === undefined || v === "" ? undefined : Number(v));
  return {
    paused: h.paused === "1",
    rate: num(h.rate),
    batchSize: num(h.batchSize),
    by: h.by,
    at: h.at,
  };
}

/** Apply a change to a run's control hash (from any host). */
export async function writeControl(
  client: RedisClient,
  key: string,
  change: Record<string, string>,
): Promise<void> {
  await client.hset(key, { ...change, at: new Date().toISOString() });
}
