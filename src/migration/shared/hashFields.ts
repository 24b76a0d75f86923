/** A hash's fields as raw bytes, keyed by the field name's bytes (latin1 is 1:1). */
export type HashBytes = Map<string, Buffer>;

export function fromFlat(flat: Buffer[], offset = 0): HashBytes {
  const m: HashBytes = new Map();
  for (let i = offset; i + 1 < flat.length; i += 2)
    m.set(flat[i]!.toString("latin1"), flat[i + 1]!);
  return m;
}

export function toFlat(h: HashBytes): Buffer[] {
  const out: Buffer[] = [];
  for (const [f, v] of h) out.push(Buffer.from(f, "latin1"), v);
  return out;
}

/** Byte-for-byte equality of two hashes, whatever their field order. */
export function sameHash(a: HashBytes, b: HashBytes): boolean {
  if (a.size !== b.size) return false;
  for (const [f, v] of a) {
    const w = b.get(f);
    if (w === undefined || !w.equals(v)) return false;
  }
  return true;
}
