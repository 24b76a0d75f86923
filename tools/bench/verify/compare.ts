import { OLD_PREFIX } from "../jobData.js";

/** The tool's default --ttl-tolerance: remaining TTLs further apart are a divergence. */
export const TTL_TOLERANCE_MS = 5000;

/** What a baseline found; the tool reports the same as counts.confirmed/unmigratable. */
export interface VerifyTally {
  keys: number;
  divergent: number;
  /** Old keys without workspace_id (the seeded malformed 1%): no pair to compare. */
  unmigratable: number;
  seconds: number;
}

export const newKeyOf = (newPrefix: string, oldKey: string, ws: string) =>
  `${newPrefix}${ws}:${oldKey.slice(OLD_PREFIX.length)}`;

/**
 * Same fields, same values, TTLs within tolerance (the tool's rules). Fields are unique,
 * so equal counts plus every old field matching means no extra field either.
 */
export function samePair(
  o: Record<string, string>,
  oldTtl: number,
  n: Record<string, string>,
  newTtl: number,
): boolean {
  let count = 0;
  for (const f in o) {
    if (n[f] !== o[f]) return false;
    count++;
  }
  if (count !== Object.keys(n).length) return false;
  return oldTtl < 0 === newTtl < 0 && Math.abs(oldTtl - newTtl) <= TTL_TOLERANCE_MS;
}
