import { globPrefix, scanStep } from "../../engine/scanNode.js";
import type { MasterNode, RedisTarget } from "../../redis/target.js";
import type { KeySchema } from "../shared/keySchema.js";
import { commandBudget } from "../../redis/commandBudget.js";

export interface KeyCounts {
  old: number;
  new: number;
  partialOld: number;
  /** false: sampled estimates (DBSIZE x share of RANDOMKEY samples), not counts. */
  exact: boolean;
}

const SAMPLES = 200;

const startsWith = (k: Buffer, p: Buffer) => k.subarray(0, p.length).equals(p);

/** How many of these old keys of one node are partial hashes (short script calls). */
async function partialCount(node: MasterNode, keys: Buffer[]): Promise<number> {
  const counts = await commandBudget.inChunks(node.client, "partialCount", keys.length, (a, b) =>
    node.client.partialCount(...keys.slice(a, b)),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}

async function sampleNode(node: MasterNode, oldP: Buffer, newP: Buffer): Promise<KeyCounts> {
  const size = await node.client.dbsize();
  if (size === 0) return { old: 0, new: 0, partialOld: 0, exact: false };
  const pipe = node.client.pipeline();
  for (let i = 0; i < SAMPLES; i++) pipe.randomkeyBuffer();
  const keys = ((await pipe.exec()) ?? []).flatMap(([err, k]) =>
    err || !Buffer.isBuffer(k) ? [] : [k],
  );
  const olds = keys.filter((k) => startsWith(k, oldP));
  const news = keys.filter((k) => startsWith(k, newP));
  const partial = await partialCount(node, olds);
  const scale = size / Math.max(1, keys.length);
  return {
    old: Math.round(olds.length * scale),
    new: Math.round(news.length * scale),
    partialOld: Math.round(partial * scale),
    exact: false,
  };
}

async function countPrefix(
  node: MasterNode,
  prefix: string,
  partial: boolean,
): Promise<[number, number]> {
  let cursor = "0";
  let n = 0;
  let p = 0;
  do {
    const step = await scanStep(node.client, cursor, { match: globPrefix(prefix) }, 1000);
    n += step.keys.length;
    if (partial) p += await partialCount(node, step.keys);
    cursor = step.cursor;
  } while (cursor !== "0");
  return [n, p];
}

/**
 * Old, new and partial old job keys: an estimate by default (a few round trips, cheap on
 * a 10M-key Cluster), or exact counts with a full SCAN of both prefixes.
 */
export async function keyCounts(
  target: RedisTarget,
  schema: KeySchema,
  exact: boolean,
): Promise<KeyCounts> {
  const masters = await target.masters();
  const per = await Promise.all(
    masters.map(async (node): Promise<KeyCounts> => {
      if (!exact)
        return sampleNode(node, Buffer.from(schema.oldPrefix), Buffer.from(schema.newPrefix));
      const [[old, partialOld], [nw]] = await Promise.all([
        countPrefix(node, schema.oldPrefix, true),
        countPrefix(node, schema.newPrefix, false),
      ]);
      return { old, new: nw, partialOld, exact: true };
    }),
  );
  return per.reduce(
    (a, b) => ({
      old: a.old + b.old,
      new: a.new + b.new,
      partialOld: a.partialOld + b.partialOld,
      exact,
    }),
    { old: 0, new: 0, partialOld: 0, exact },
  );
}
