import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import { pingRttUs } from "../rtt.js";
import type { MethodCtx } from "../types.js";

/**
 * Baseline 1: the naive client. Every key costs 3-5 sequential round trips, so this is
 * stopped after `oneKeySeconds` and its rate extrapolated from the part it did.
 */
export async function oneKeyBackfill(ctx: MethodCtx) {
  const { target, batchSize, newPrefix } = ctx;
  const rttUs = await pingRttUs(target.conns[0]!);
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
