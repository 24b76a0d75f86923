import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import { pingRttUs } from "../rtt.js";
import type { MethodCtx } from "../types.js";
import { newKeyOf, samePair, type VerifyTally } from "./compare.js";

/**
 * Baseline 1: the naive client. Four sequential round trips per pair (HGETALL and PTTL of
 * each key), so this is stopped after `oneKeySeconds` and its rate taken from that part.
 */
export async function oneKeyVerify(ctx: MethodCtx) {
  const { target, batchSize, newPrefix } = ctx;
  const rttUs = await pingRttUs(target.conns[0]!);
  const t0 = performance.now();
  const deadline = t0 + ctx.oneKeySeconds * 1000;
  const tally: VerifyTally = { keys: 0, divergent: 0, unmigratable: 0, seconds: 0 };
  let capped = false;
  outer: for (const conn of target.conns) {
    for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, batchSize)) {
      for (const key of batch) {
        const o = await conn.hgetall(key);
        const oldTtl = await conn.pttl(key);
        tally.keys++;
        const ws = o["workspace_id"];
        if (!ws) tally.unmigratable++;
        else {
          const newKey = newKeyOf(newPrefix, key, ws);
          const dst = target.nodeFor(newKey);
          const n = await dst.hgetall(newKey);
          if (!samePair(o, oldTtl, n, await dst.pttl(newKey))) tally.divergent++;
        }
        if (performance.now() >= deadline) {
          capped = true;
          break outer;
        }
      }
    }
  }
  tally.seconds = (performance.now() - t0) / 1000;
  return { ...tally, capped, rttUs };
}
