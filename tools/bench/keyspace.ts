import type { Redis } from "ioredis";
import type { Target } from "./target.js";

/** SCAN one node for `pattern`, yielding each non-empty batch (COUNT = batchSize). */
export async function* scanBatches(
  conn: Redis,
  pattern: string,
  batchSize: number,
): AsyncGenerator<string[]> {
  let cursor = "0";
  do {
    const [next, keys] = await conn.scan(cursor, "MATCH", pattern, "COUNT", batchSize);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== "0");
}

/**
 * Counts and deletes every key under `prefix` on all masters. Run between methods so each
 * one SCANs the same keyspace: leftover copies would make later methods scan more keys.
 */
export async function dropPrefix(target: Target, prefix: string): Promise<number> {
  const counts = await Promise.all(
    target.conns.map(async (conn) => {
      let n = 0;
      for await (const keys of scanBatches(conn, `${prefix}*`, 5000)) {
        n += keys.length;
        // One UNLINK per key: multi-key UNLINK fails with CROSSSLOT on a cluster.
        const p = conn.pipeline();
        for (const k of keys) p.unlink(k);
        await p.exec();
      }
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Counts keys under `prefix` without deleting them. */
export async function countPrefix(target: Target, prefix: string): Promise<number> {
  let n = 0;
  for (const conn of target.conns) {
    for await (const keys of scanBatches(conn, `${prefix}*`, 5000)) n += keys.length;
  }
  return n;
}
