import type { ChainableCommander } from "ioredis";
import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import { pipelineErrors, type MethodCtx } from "../types.js";
import { newKeyOf, type VerifyTally } from "./compare.js";

/**
 * Baseline for the server's side of verify: per pair, exactly two HGETALLs, pipelined
 * (the old key, then the new key its workspace_id names), and nothing compared. What the
 * server spends per pair here is the floor the tool's server CPU is measured against; its
 * throughput is the client's (ioredis decoding every field), not a target.
 */
export async function twoHgetallVerify(ctx: MethodCtx): Promise<VerifyTally> {
  const { target, batchSize, newPrefix } = ctx;
  const t0 = performance.now();
  const perNode = await Promise.all(
    target.conns.map(async (conn) => {
      const t: VerifyTally = { keys: 0, divergent: 0, unmigratable: 0, seconds: 0 };
      for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, batchSize)) {
        const read = conn.pipeline();
        for (const key of batch) read.callBuffer("HGETALL", key);
        const olds = await read.exec();
        pipelineErrors(olds);
        const news = new Map<number, ChainableCommander>();
        batch.forEach((key, i) => {
          const flat = olds![i]![1] as Buffer[];
          const at = flat.findIndex((f, j) => j % 2 === 0 && f.toString() === "workspace_id");
          if (at < 0) return void t.unmigratable++;
          const newKey = newKeyOf(newPrefix, key, flat[at + 1]!.toString());
          const idx = target.indexFor(newKey);
          let p = news.get(idx);
          if (!p) news.set(idx, (p = target.conns[idx]!.pipeline()));
          p.callBuffer("HGETALL", newKey);
        });
        await Promise.all([...news.values()].map(async (p) => pipelineErrors(await p.exec())));
        t.keys += batch.length;
      }
      return t;
    }),
  );
  const sum = (f: "keys" | "unmigratable") => perNode.reduce((a, t) => a + t[f], 0);
  return {
    keys: sum("keys"),
    divergent: 0,
    unmigratable: sum("unmigratable"),
    seconds: (performance.now() - t0) / 1000,
  };
}
