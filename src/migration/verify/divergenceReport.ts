import type { RedisClient } from "../shared/redisClient.js";
import { redactValue } from "../../output/redact.js";
import { displayBytes } from "../shared/keySchema.js";
import type { Divergence } from "../shared/pairDiff.js";

/** At most this many fields' values are shown per divergent pair. */
const SHOWN_FIELDS = 6;

/** A divergence as written to the report, the summary and the checkpoint's sample. */
export interface DivergenceRecord {
  status: "confirmed" | "transient";
  kinds: string[];
  /** For kind "unmigratable": why the old key cannot be migrated. */
  reason?: string;
  oldKey: string;
  newKey?: string;
  fields?: { differs: string[]; missing: string[]; extra: string[] };
  /** Redacted, truncated values of the fields involved (confirmed divergences only). */
  values?: Record<string, { old: string | null; new: string | null }>;
  oldTtlMs?: number;
  newTtlMs?: number;
}

/**
 * Describe a divergence for output. Values are read again and pass through the redaction
 * (DESIGN §3.7) before anything is kept: nothing downstream ever holds a raw value.
 */
export async function describeDivergence(
  client: RedisClient,
  d: Divergence,
  status: "confirmed" | "transient",
): Promise<DivergenceRecord> {
  const rec: DivergenceRecord = {
    status,
    kinds: d.kinds,
    oldKey: displayBytes(d.oldKey),
    newKey: displayBytes(d.newKey),
  };
  if (d.kinds.includes("orphan")) return rec;
  rec.fields = { differs: d.differs, missing: d.missing, extra: d.extra };
  if (d.kinds.includes("ttl_differs")) {
    rec.oldTtlMs = d.oldTtlMs;
    rec.newTtlMs = d.newTtlMs;
  }
  const names = [...d.differs, ...d.missing, ...d.extra].slice(0, SHOWN_FIELDS);
  if (status === "confirmed" && names.length > 0) {
    const fieldBufs = names.map((n) => Buffer.from(n, "latin1"));
    // A key of the wrong type (or one that just vanished) shows no values, not an error.
    const read = (key: Buffer) =>
      client.hmgetBuffer(key, ...fieldBufs).catch(() => [] as (Buffer | null)[]);
    const [o, n] = await Promise.all([read(d.oldKey), read(d.newKey)]);
    rec.values = {};
    names.forEach((f, i) => {
      const show = (v: Buffer | null | undefined): string | null => (v ? redactValue(f, v) : null);
      rec.values![f] = { old: show(o[i]), new: show(n[i]) };
    });
  }
  return rec;
}
