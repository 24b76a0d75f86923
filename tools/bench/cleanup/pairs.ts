import type { ChainableCommander } from "ioredis";
import { serverSideBackfill } from "../backfill/serverSide.js";
import { TOOL_STATE_PREFIX } from "../backfill/tool.js";
import { OLD_PREFIX } from "../jobData.js";
import { countPrefix, dropPrefix, scanBatches } from "../keyspace.js";
import { reseed, type SeedResult } from "../seed.js";
import type { Target } from "../target.js";
import { pipelineErrors } from "../types.js";
import { newKeyOf } from "../verify/compare.js";

/**
 * Cluster: DUMP + PTTL, then RESTORE on the new key's node. The exact bytes, as the tool's
 * own backfill copies them there, so the tool's DUMP comparison sees what it would in
 * production (an HSET-built copy may serialize differently and take its slow path).
 */
async function dumpRestorePairs(target: Target, newPrefix: string): Promise<void> {
  await Promise.all(
    target.conns.map(async (conn) => {
      for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, 1000)) {
        const read = conn.pipeline();
        for (const key of batch) read.hget(key, "workspace_id").dumpBuffer(key).pttl(key);
        const res = await read.exec();
        pipelineErrors(res);
        const writes = new Map<number, ChainableCommander>();
        batch.forEach((key, i) => {
          const ws = res![3 * i]![1] as string | null;
          if (!ws) return;
          const newKey = newKeyOf(newPrefix, key, ws);
          const ttl = res![3 * i + 2]![1] as number;
          const idx = target.indexFor(newKey);
          let w = writes.get(idx);
          if (!w) writes.set(idx, (w = target.conns[idx]!.pipeline()));
          w.restore(newKey, ttl > 0 ? ttl : 0, res![3 * i + 1]![1] as Buffer);
        });
        (await Promise.all([...writes.values()].map((w) => w.exec()))).forEach(pipelineErrors);
      }
    }),
  );
}

/**
 * Before each method (not timed): every seeded old key, its new key, and none of the
 * tool's state (a tombstone set or checkpoint left by the last run would change the work).
 * What the last method deleted is re-seeded rather than copied back from a third "source"
 * prefix: that would put 3N keys in the keyspace SCAN walks, so each batch would hold a
 * third old keys instead of a half, as in production (old + new keys only).
 */
export async function freshPairs(
  target: Target,
  seeded: SeedResult,
  newPrefix: string,
  again: boolean,
): Promise<void> {
  const t0 = performance.now();
  if (again) await reseed(target, seeded);
  await dropPrefix(target, newPrefix);
  await dropPrefix(target, TOOL_STATE_PREFIX);
  if (target.kind === "single") {
    // COPY keeps the bytes and the TTL exactly.
    await serverSideBackfill({ target, batchSize: 1000, newPrefix, oneKeySeconds: 0 });
  } else {
    await dumpRestorePairs(target, newPrefix);
  }
  const [olds, news] = [
    await countPrefix(target, OLD_PREFIX),
    await countPrefix(target, newPrefix),
  ];
  const expected = seeded.keys - seeded.malformed;
  if (olds !== seeded.keys || news !== expected) {
    throw new Error(
      `making pairs: expected ${seeded.keys} old and ${expected} new keys, found ${olds} and ${news}`,
    );
  }
  const s = ((performance.now() - t0) / 1000).toFixed(2);
  console.log(
    `  pairs        ... ${again ? "re-seeded, " : ""}${news} new keys under ${newPrefix} in ${s} s`,
  );
}
