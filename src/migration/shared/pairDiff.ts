import { sameHash, type HashBytes } from "./hashFields.js";

/** The ways a pair can disagree (verify reports them by kind). */
export type DivergenceKind =
  | "new_missing"
  | "new_wrong_type"
  | "field_differs"
  | "field_missing"
  | "field_extra"
  | "ttl_differs"
  | "orphan";

/** One divergent pair: what differs, by field name (values are fetched only for display). */
export interface Divergence {
  oldKey: Buffer;
  newKey: Buffer;
  kinds: DivergenceKind[];
  /** Field names (latin1) whose values differ, missing from the new key, only in the new key. */
  differs: string[];
  missing: string[];
  extra: string[];
  oldTtlMs: number;
  newTtlMs: number;
}

/** A key as read for comparison. */
export interface KeyState {
  type: string;
  pttl: number;
  fields: HashBytes;
}

export function ttlsDiffer(oldTtl: number, newTtl: number, toleranceMs: number): boolean {
  return oldTtl < 0 !== newTtl < 0 || Math.abs(oldTtl - newTtl) > toleranceMs;
}

/** The kinds a divergence has, from its parts. */
export function kindsOf(
  d: Omit<Divergence, "kinds">,
  newType: string,
  toleranceMs: number,
): DivergenceKind[] {
  if (newType === "none") return ["new_missing"];
  if (newType !== "hash") return ["new_wrong_type"];
  const kinds: DivergenceKind[] = [];
  if (d.differs.length) kinds.push("field_differs");
  if (d.missing.length) kinds.push("field_missing");
  if (d.extra.length) kinds.push("field_extra");
  if (ttlsDiffer(d.oldTtlMs, d.newTtlMs, toleranceMs)) kinds.push("ttl_differs");
  return kinds;
}

/**
 * Compare an old job hash with its new key, byte for byte; undefined when they agree.
 * The same rules as verifyPairs-n.lua, which does this inside Redis on a single instance.
 */
export function diffPair(
  oldKey: Buffer,
  newKey: Buffer,
  o: KeyState,
  n: KeyState,
  toleranceMs: number,
): Divergence | undefined {
  const differs: string[] = [];
  const missing: string[] = [];
  const extra: string[] = [];
  if (n.type === "hash") {
    if (sameHash(o.fields, n.fields) && !ttlsDiffer(o.pttl, n.pttl, toleranceMs)) return undefined;
    for (const [f, v] of o.fields) {
      const w = n.fields.get(f);
      if (w === undefined) missing.push(f);
      else if (!w.equals(v)) differs.push(f);
    }
    for (const f of n.fields.keys()) if (!o.fields.has(f)) extra.push(f);
  }
  const base = { oldKey, newKey, differs, missing, extra, oldTtlMs: o.pttl, newTtlMs: n.pttl };
  const kinds = kindsOf(base, n.type, toleranceMs);
  return kinds.length === 0 ? undefined : { ...base, kinds };
}
