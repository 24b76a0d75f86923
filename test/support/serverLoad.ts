/**
 * Load put on a server from the side, and what the tool sends it, for throttling tests:
 * a server kept busy (every PING slow), a replica that stops reading its stream, and the
 * SCAN COUNT of each batch as MONITOR sees it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, Redis } from "ioredis";
import type { RedisClient } from "./targets.js";

/** Spins for ARGV[1] ms: a server runs one script at a time and serves nobody meanwhile. */
const SPIN_LUA =
  "local s=redis.call('TIME') repeat local t=redis.call('TIME') until (t[1]-s[1])*1e6+t[2]-s[2] >= tonumber(ARGV[1])*1000";

/** Block a server (a replica too: it stops reading and acknowledging its stream) for `ms`. */
export async function stall(client: Redis, ms: number): Promise<void> {
  await client.eval(SPIN_LUA, 0, ms);
}

/**
 * Keep a server busy with 300 ms scripts from two connections started 150 ms apart, until
 * the returned stop() is called. While one script runs the other is already queued, so a
 * PING always shares an event-loop turn with a script and its reply waits; with a single
 * connection a PING sent right after a reply often slips into the gap, fast.
 */
export function keepBusy(host: string, port: number): () => Promise<void> {
  let busy = true;
  const loop = async (delay: number) => {
    // No retries: once the server is gone (a failed test stopped it) the loop just ends.
    const c = new Redis({ host, port, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on("error", () => undefined);
    await sleep(delay);
    while (busy) await stall(c, 300).catch(() => (busy = false));
    c.disconnect();
  };
  const loops = Promise.all([loop(0), loop(150)]);
  return () => ((busy = false), loops.then(() => undefined));
}

/** The COUNT of every SCAN MATCH `match` sent to any master, as MONITOR sees it; stop() it. */
export async function watchScanCounts(redis: RedisClient, match: string) {
  const masters = redis instanceof Cluster ? redis.nodes("master") : [redis];
  const monitors = await Promise.all(masters.map((m) => m.monitor()));
  const counts: number[] = [];
  for (const m of monitors)
    m.on("monitor", (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === "scan" && args[3] === match) counts.push(Number(args[5]));
    });
  return { counts, stop: () => monitors.forEach((m) => m.disconnect()) };
}
