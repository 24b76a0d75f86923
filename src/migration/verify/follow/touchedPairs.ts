import { inSample } from "../sampling.js";

/** Where a touched pair was learned: a keyspace event, or a catch-up sweep after a gap. */
export type TouchSource = "event" | "sweep";

/** A pair waiting to be checked, named by its old key. */
export interface TouchedPair {
  oldKey: Buffer;
  /** First and last write seen (ms since the epoch). */
  firstMs: number;
  lastMs: number;
  source: TouchSource;
}

/** What touch() did with a pair. */
export type Admission = "queued" | "retouched" | "outOfSample" | "sampledOut" | "dropped";

/** The lowest admission fraction overload sampling goes down to (of --sample's). */
const MIN_FRACTION = 1 / 1024;

/**
 * The pairs the application touched, deduplicated, each waiting until it has been quiet
 * for the settle time. Bounded: at `capacity` pending pairs, new pairs are admitted by
 * sampling (the fraction halves each time the queue fills, and doubles back while it is
 * under a quarter full), and a pair in the sample that still finds the queue full is
 * dropped. Both are counted by the caller: no touched pair goes unaccounted for.
 *
 * A Map keeps insertion order, and a re-touched pair is moved to the end, so the pairs
 * are in order of their last write: the settled ones are always at the front. A pair
 * written without pause is not moved after `maxWaitMs` from its first write, so that it
 * is checked in the end all the same.
 */
export class TouchedPairs {
  private readonly pending = new Map<string, TouchedPair>();
  /** The fraction of new pairs admitted now (overload sampling); at most `baseFraction`. */
  fraction: number;

  constructor(
    readonly capacity: number,
    private readonly baseFraction: number,
    private readonly maxWaitMs: number,
  ) {
    this.fraction = baseFraction;
  }

  get size(): number {
    return this.pending.size;
  }

  touch(oldKey: Buffer, nowMs: number, source: TouchSource): Admission {
    const id = oldKey.toString("latin1");
    const known = this.pending.get(id);
    if (known) {
      if (nowMs - known.firstMs < this.maxWaitMs) {
        this.pending.delete(id);
        known.lastMs = nowMs;
        this.pending.set(id, known);
      }
      if (source === "event") known.source = "event";
      return "retouched";
    }
    // --sample's pairs are the same every run; overload sampling takes a subset of them.
    if (this.baseFraction < 1 && !inSample(oldKey, this.baseFraction)) return "outOfSample";
    if (this.pending.size >= this.capacity && this.fraction > MIN_FRACTION * this.baseFraction)
      this.fraction = Math.max(MIN_FRACTION * this.baseFraction, this.fraction / 2);
    if (this.fraction < this.baseFraction && !inSample(oldKey, this.fraction)) return "sampledOut";
    if (this.pending.size >= this.capacity) return "dropped";
    this.pending.set(id, { oldKey, firstMs: nowMs, lastMs: nowMs, source });
    return "queued";
  }

  /** Up to `max` pairs quiet for `settleMs` (or all of them with `all`), removed. */
  takeSettled(nowMs: number, settleMs: number, max: number, all = false): TouchedPair[] {
    const out: TouchedPair[] = [];
    for (const [id, p] of this.pending) {
      if (out.length >= max || (!all && p.lastMs + settleMs > nowMs)) break;
      this.pending.delete(id);
      out.push(p);
    }
    if (this.fraction < this.baseFraction && this.pending.size < this.capacity / 4)
      this.fraction = Math.min(this.baseFraction, this.fraction * 2);
    return out;
  }

  /** Put back pairs whose check failed (a topology change): due again after `settleMs`. */
  requeue(pairs: TouchedPair[], nowMs: number): void {
    for (const p of pairs) {
      const id = p.oldKey.toString("latin1");
      if (!this.pending.has(id)) this.pending.set(id, { ...p, lastMs: nowMs });
    }
  }
}
