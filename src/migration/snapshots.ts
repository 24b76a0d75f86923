import type { Redis } from "ioredis";
import { fromFlat, type HashBytes } from "./hashFields.js";

/** One key as snapshotHashes-n.lua saw it. */
export interface KeySnapshot {
  type: string;
  pttl: number;
  fields: HashBytes;
}

/** Read type, TTL and fields of many keys of one node in one script call. */
export async function snapshotKeys(node: Redis, keys: Buffer[]): Promise<KeySnapshot[]> {
  const flat = await node.snapshotHashesBuffer(...keys);
  const out: KeySnapshot[] = [];
  let i = 0;
  for (let k = 0; k < keys.length; k++) {
    const type = String(flat[i]);
    const pttl = Number(flat[i + 1]);
    const m = Number(flat[i + 2]);
    i += 3;
    out.push({ type, pttl, fields: fromFlat(flat.slice(i, i + 2 * m) as Buffer[]) });
    i += 2 * m;
  }
  return out;
}

/** createIfAbsentMany-n.lua's arguments for a list of (key, snapshot) pairs. */
export function createArgs(items: { newKey: Buffer; snap: KeySnapshot }[]): (Buffer | number)[] {
  const args: (Buffer | number)[] = items.map((i) => i.newKey);
  for (const { snap } of items) {
    args.push(snap.pttl, snap.fields.size);
    for (const [f, v] of snap.fields) args.push(Buffer.from(f, "latin1"), v);
  }
  return args;
}
