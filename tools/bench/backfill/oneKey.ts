import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import type { MethodCtx } from "../types.js";

/**
 * Baseline 1: the naive client. Every key costs 3-5 sequential round trips, so this is
 * stopped after `oneKeySeconds` and its rate extrapolated from the part it did.
 */
export async function oneKeyBackfill(ctx: MethodCtx) {
  const { target, batchSize, newPrefix } = ctx;
  // Its rate is bound by round-trip time, which on a VM varies a lot with how idle the
  // CPUs are (wake-up latency): report it next to the rate.
  const p0 = performance.now();
  for (let i = 0; i < 1000; i++) await target.conns[0]!.ping();
  const rttUs = performance.now() - p0; // total ms over 1000 pings == mean µs per ping
  const t0 = performance.now();
  const deadline = t0 + ctx.oneKeySeconds * 1000;
  let keys = 0;
  let capped = false;
  outer: for (const conn of target.conns) {
    for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, batchSize)) {
      for (const key of batch) {
        const h = await conn.hgetall(key);
        keys++;
        const ws = h["workspace_id"];
        if (ws) {
          const newKey = `${newPrefix}${ws}:${key.slice(OLD_PREFIX.length)}`;
          const dst = target.nodeFor(newKey);
          if ((await dst.exists(newKey)) === 0) {
            await dst.hset(newKey, h);
            const ttl = await conn.pttl(key);
            if (ttl > 0) await dst.pexpire(newKey, ttl);
          }
        }
        if (performance.now() >= deadline) {
          capped = true;
          break outer;
        }
      }
    }
  }
  return { keys, seconds: (performance.now() - t0) / 1000, capped, rttUs };
}
