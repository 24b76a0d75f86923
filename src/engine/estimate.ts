import type { MasterNode } from "../redis/target.js";

const SAMPLES = 64;

/**
 * Estimate how many keys start with `prefix`, for progress and ETA only: DBSIZE per
 * master times the share of RANDOMKEY samples under the prefix. Cheap (one pipeline per
 * master) where counting would mean a full SCAN of a 10M-key keyspace.
 */
export async function estimateKeys(masters: MasterNode[], prefix: Buffer): Promise<number> {
  const perNode = await Promise.all(
    masters.map(async ({ client }) => {
      const size = await client.dbsize();
      if (size === 0) return 0;
      const pipe = client.pipeline();
      for (let i = 0; i < SAMPLES; i++) pipe.randomkeyBuffer();
      const replies = (await pipe.exec()) ?? [];
      let hits = 0;
      let seen = 0;
      for (const [err, key] of replies) {
        if (err || !Buffer.isBuffer(key)) continue;
        seen++;
        if (key.subarray(0, prefix.length).equals(prefix)) hits++;
      }
      return seen === 0 ? 0 : Math.round((size * hits) / seen);
    }),
  );
  return perNode.reduce((a, b) => a + b, 0);
}
