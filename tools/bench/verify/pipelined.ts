import type { ChainableCommander } from "ioredis";
import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import { pipelineErrors, type MethodCtx } from "../types.js";
import { newKeyOf, samePair, type VerifyTally } from "./compare.js";

type Hash = Record<string, string>;

/**
 * Baseline 2: the straightforward fast client. Per SCAN batch one pipeline of HGETALL +
 * PTTL for the old keys, then (the new keys being named by the old hashes' workspace_id)
 * one per destination node for the new keys. On a cluster every master is scanned
 * concurrently.
 */
export async function pipelinedVerify(ctx: MethodCtx): Promise<VerifyTally> {
  const { target, batchSize, newPrefix } = ctx;
  const t0 = performance.now();
  const perNode = await Promise.all(
    target.conns.map(async (conn) => {
      const t: VerifyTally = { keys: 0, divergent: 0, unmigratable: 0, seconds: 0 };
      for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, batchSize)) {
        const read = conn.pipeline();
        for (const key of batch) read.hgetall(key).pttl(key);
        const olds = await read.exec();
        pipelineErrors(olds);
        // Per destination node: its pipeline and the old-key indexes it answers for.
        const news = new Map<number, { p: ChainableCommander; at: number[] }>();
        batch.forEach((key, i) => {
          const ws = (olds![2 * i]![1] as Hash)["workspace_id"];
          if (!ws) return void t.unmigratable++;
          const newKey = newKeyOf(newPrefix, key, ws);
          const idx = target.indexFor(newKey);
          let n = news.get(idx);
          if (!n) news.set(idx, (n = { p: target.conns[idx]!.pipeline(), at: [] }));
          n.p.hgetall(newKey).pttl(newKey);
          n.at.push(i);
        });
        await Promise.all(
          [...news.values()].map(async ({ p, at }) => {
            const res = await p.exec();
            pipelineErrors(res);
            at.forEach((i, j) => {
              const o = olds![2 * i]![1] as Hash;
              const oldTtl = olds![2 * i + 1]![1] as number;
              const n = res![2 * j]![1] as Hash;
              if (!samePair(o, oldTtl, n, res![2 * j + 1]![1] as number)) t.divergent++;
            });
          }),
        );
        t.keys += batch.length;
      }
      return t;
    }),
  );
  const sum = (f: "keys" | "divergent" | "unmigratable") => perNode.reduce((a, t) => a + t[f], 0);
  return {
    keys: sum("keys"),
    divergent: sum("divergent"),
    unmigratable: sum("unmigratable"),
    seconds: (performance.now() - t0) / 1000,
  };
}
