/**
 * Deterministic sampling spread over the whole keyspace: a key is in the sample when a
 * hash of its bytes falls under the fraction. Unlike "the first N keys", every part of
 * the keyspace (every node, every slot, old and new keys alike) is represented, and the
 * same key is in or out on every run, so repeated canaries are comparable.
 */
export function inSample(key: Buffer, fraction: number): boolean {
  if (fraction >= 1) return true;
  // FNV-1a, 32 bit, then murmur3's fmix32: FNV alone barely moves the top bits for a
  // change in the last byte, so job-40..job-49 would all be in or all out together.
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 0x100000000 < fraction;
}
