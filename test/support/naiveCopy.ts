import { setTimeout as sleep } from "node:timers/promises";
import { readHashBuffers } from "./appTraffic.js";
import { keysUnder } from "./keys.js";
import type { RedisClient } from "./targets.js";

/**
 * The copy a migration script would write first, to show what the tool protects
 * against: read the old hash, then write the new key if absent, in separate round
 * trips. An update_status that lands between the read and the write skips the
 * not-yet-existing new key, and the copy then writes the older state.
 */
export async function naiveCopy(
  redis: RedisClient,
  oldPrefix: string,
  newPrefix: string,
  gapMs: number,
): Promise<number> {
  const keys = await keysUnder(redis, oldPrefix);
  let copied = 0;
  for (let i = 0; i < keys.length; i += 20) {
    const batch = keys.slice(i, i + 20);
    const hashes = await Promise.all(batch.map((k) => readHashBuffers(redis, k)));
    await sleep(gapMs); // a network round trip, a GC pause: the window the race needs
    await Promise.all(
      batch.map(async (oldKey, j) => {
        const h = hashes[j]!;
        const ws = h.get("workspace_id")?.toString();
        const newKey = `${newPrefix}${ws}:${oldKey.slice(oldPrefix.length)}`;
        if ((await redis.exists(newKey)) === 1) return;
        await redis.hset(newKey, ...[...h].flat());
        copied++;
      }),
    );
  }
  return copied;
}
