import type { Redis } from "ioredis";
import type { KeyState } from "./pairDiff.js";

/** Fields per HSCAN page: a page of a wide hash stays well within the command budget. */
const PAGE_FIELDS = 100;

/**
 * Read a key too big for one short command (an oversized hash: hundreds of fields, a
 * megabyte field) in pages: TYPE and PTTL, then HSCAN. Not one instant, so a pair read
 * this way and found divergent is only a suspect: verify's re-check rounds read it again.
 */
export async function readInPages(client: Redis, key: Buffer): Promise<KeyState> {
  const [type, pttl] = await Promise.all([client.type(key), client.pttl(key)]);
  const fields = new Map<string, Buffer>();
  if (type !== "hash") return { type, pttl, fields };
  let cursor = "0";
  do {
    const [next, flat] = (await client.hscanBuffer(key, cursor, "COUNT", PAGE_FIELDS)) as [
      Buffer,
      Buffer[],
    ];
    // HSCAN may return a field twice (while the table rehashes): the map keeps one.
    for (let i = 0; i + 1 < flat.length; i += 2)
      fields.set(flat[i]!.toString("latin1"), flat[i + 1]!);
    cursor = next.toString();
  } while (cursor !== "0");
  return { type, pttl, fields };
}
