import { setTimeout as sleep } from "node:timers/promises";
import type { RedisClient } from "./targets.js";

/** Keys handled so far according to a run's checkpoint in Redis (all nodes summed). */
export async function checkpointProgress(
  redis: RedisClient,
  checkpointKey: string,
): Promise<{ status?: string; scanned: number }> {
  const h = await redis.hgetall(checkpointKey);
  let scanned = 0;
  for (const [f, v] of Object.entries(h)) {
    if (f.startsWith("node:"))
      scanned += (JSON.parse(v) as { counts: { scanned?: number } }).counts.scanned ?? 0;
  }
  return { status: h.status, scanned };
}

/** Poll until `check` holds, or fail after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
