import type { ChainableCommander } from "ioredis";
import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import { pipelineErrors, type MethodCtx } from "../types.js";
import { newKeyOf } from "../verify/compare.js";

type Hash = Record<string, string>;

export interface CleanupTally {
  keys: number;
  deleted: number;
  /** Pairs found different or without a new key: the old key stays. */
  kept: number;
  /** Old keys without workspace_id (the seeded malformed 1%): no pair, never deleted. */
  unmigratable: number;
  seconds: number;
}

/** The tool's rule: the same fields, byte for byte (TTLs are not compared). */
function sameFields(o: Hash, n: Hash): boolean {
  let count = 0;
  for (const f in o) {
    if (n[f] !== o[f]) return false;
    count++;
  }
  return count === Object.keys(n).length;
}

/**
 * Baseline: the straightforward fast client. Per SCAN batch one pipeline of HGETALL for
 * the old keys, one per destination node for their new keys, the comparison in the client,
 * then one pipeline of UNLINK for the equal pairs' old keys (all on the scanned node). Not
 * race-safe (a write between the read and the UNLINK is lost), which the tool is.
 */
export async function pipelinedCleanup(ctx: MethodCtx): Promise<CleanupTally> {
  const { target, batchSize, newPrefix } = ctx;
  const t0 = performance.now();
  const perNode = await Promise.all(
    target.conns.map(async (conn) => {
      const t: CleanupTally = { keys: 0, deleted: 0, kept: 0, unmigratable: 0, seconds: 0 };
      for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, batchSize)) {
        const read = conn.pipeline();
        for (const key of batch) read.hgetall(key);
        const olds = await read.exec();
        pipelineErrors(olds);
        // Per destination node: its pipeline and the old-key indexes it answers for.
        const news = new Map<number, { p: ChainableCommander; at: number[] }>();
        batch.forEach((key, i) => {
          const ws = (olds![i]![1] as Hash)["workspace_id"];
          if (!ws) return void t.unmigratable++;
          const newKey = newKeyOf(newPrefix, key, ws);
          const idx = target.indexFor(newKey);
          let n = news.get(idx);
          if (!n) news.set(idx, (n = { p: target.conns[idx]!.pipeline(), at: [] }));
          n.p.hgetall(newKey);
          n.at.push(i);
        });
        const equal: string[] = [];
        await Promise.all(
          [...news.values()].map(async ({ p, at }) => {
            const res = await p.exec();
            pipelineErrors(res);
            at.forEach((i, j) => {
              if (sameFields(olds![i]![1] as Hash, res![j]![1] as Hash)) equal.push(batch[i]!);
              else t.kept++;
            });
          }),
        );
        if (equal.length > 0) {
          // One UNLINK per key: a multi-key UNLINK fails with CROSSSLOT on a cluster.
          const del = conn.pipeline();
          for (const key of equal) del.unlink(key);
          const res = await del.exec();
          pipelineErrors(res);
          for (const [, n] of res!) t.deleted += n as number;
        }
        t.keys += batch.length;
      }
      return t;
    }),
  );
  const sum = (f: "keys" | "deleted" | "kept" | "unmigratable") =>
    perNode.reduce((a, t) => a + t[f], 0);
  return {
    keys: sum("keys"),
    deleted: sum("deleted"),
    kept: sum("kept"),
    unmigratable: sum("unmigratable"),
    seconds: (performance.now() - t0) / 1000,
  };
}
