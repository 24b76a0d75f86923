/** Resolution of the quantiles: 10 ms steps up to 2 minutes, then one overflow bucket. */
const STEP_MS = 10;
const BUCKETS = 12_000;

/**
 * The lag from a pair's last write to the end of its check, in fixed buckets: memory is
 * the same after a minute or a week, and quantiles are exact to 10 ms.
 */
export class LagHistogram {
  // Float64: a 32-bit count would wrap after a few days at thousands of pairs a second.
  private readonly counts = new Float64Array(BUCKETS + 1);
  count = 0;
  sumMs = 0;
  maxMs = 0;

  observe(ms: number): void {
    const v = Math.max(0, ms);
    this.counts[Math.min(BUCKETS, Math.floor(v / STEP_MS))]!++;
    this.count++;
    this.sumMs += v;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** The q-quantile (0 < q <= 1) in ms, the upper edge of its bucket; undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return i === BUCKETS ? this.maxMs : Math.min(this.maxMs, (i + 1) * STEP_MS);
    }
    return this.maxMs;
  }
}
