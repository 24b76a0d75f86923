/**
 * Deterministic sampling spread over the whole keyspace: a key is in the sample when a
 * hash of its bytes falls under the fraction. Unlike "the first N keys", every part of
 * the keyspace (every node, every slot, old and new keys alike) is represented, and the
 * same key is in or out on every run, so repeated canaries are comparable.
 */
export function inSample(key: Buffer, fraction: number): boolean {
  if (fraction >= 1) return true;
  // FNV-1a, 32 bit: fast, and well spread for similar key names.
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 0x100000000 < fraction;
}
