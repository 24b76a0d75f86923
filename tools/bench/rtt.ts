import type { Redis } from "ioredis";

/**
 * Mean PING round trip in µs. One-key rates are bound by it, and on a VM it varies a lot
 * with how idle the CPUs are (wake-up latency): report it next to those rates.
 */
export async function pingRttUs(conn: Redis): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 1000; i++) await conn.ping();
  return performance.now() - t0; // total ms over 1000 pings == mean µs per ping
}
