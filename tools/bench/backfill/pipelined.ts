import type { ChainableCommander } from "ioredis";
import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import { pipelineErrors, type MethodCtx } from "../types.js";

/**
 * Baseline 2: the straightforward fast client. Per SCAN batch one read pipeline
 * (HGETALL + PTTL per key), then one write pipeline per destination node. On a cluster
 * every master is scanned concurrently.
 */
export async function pipelinedBackfill(ctx: MethodCtx) {
  const { target, batchSize, newPrefix } = ctx;
  const t0 = performance.now();
  const perNode = await Promise.all(
    target.conns.map(async (conn) => {
      let keys = 0;
      for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, batchSize)) {
        const read = conn.pipeline();
        for (const key of batch) read.hgetall(key).pttl(key);
        const res = await read.exec();
        pipelineErrors(res);
        const writes = new Map<number, ChainableCommander>();
        batch.forEach((key, i) => {
          const h = res![2 * i]![1] as Record<string, string>;
          const ttl = res![2 * i + 1]![1] as number;
          const ws = h["workspace_id"];
          if (!ws) return;
          const newKey = `${newPrefix}${ws}:${key.slice(OLD_PREFIX.length)}`;
          const idx = target.indexFor(newKey);
          let w = writes.get(idx);
          if (!w) writes.set(idx, (w = target.conns[idx]!.pipeline()));
          w.hset(newKey, h);
          if (ttl > 0) w.pexpire(newKey, ttl);
        });
        const written = await Promise.all([...writes.values()].map((w) => w.exec()));
        written.forEach(pipelineErrors);
        keys += batch.length;
      }
      return keys;
    }),
  );
  return { keys: perNode.reduce((a, b) => a + b, 0), seconds: (performance.now() - t0) / 1000 };
}
