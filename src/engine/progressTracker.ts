import type { NodeProgress } from "./checkpoint.js";
import type { RunEvent, RunEventListener } from "./events.js";

/** Sums the per-node progress into run-wide figures: processed, rate and ETA. */
export class ProgressTracker {
  private readonly startedAt = Date.now();
  private readonly processedAtStart: number;

  constructor(
    private readonly nodes: Record<string, NodeProgress>,
    private readonly estimatedTotal: number | undefined,
    private readonly listener: RunEventListener | undefined,
  ) {
    this.processedAtStart = this.processed();
  }

  processed(): number {
    let n = 0;
    for (const p of Object.values(this.nodes)) n += p.counts.scanned ?? 0;
    return n;
  }

  counts(): Record<string, number> {
    const sum: Record<string, number> = {};
    for (const p of Object.values(this.nodes)) {
      for (const [k, v] of Object.entries(p.counts)) sum[k] = (sum[k] ?? 0) + v;
    }
    return sum;
  }

  emit(throttled: boolean, paused?: string): void {
    if (!this.listener) return;
    const processed = this.processed();
    const seconds = (Date.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? (processed - this.processedAtStart) / seconds : 0;
    const done = Object.values(this.nodes).every((p) => p.done);
    // A sampled estimate can be low: never show more than 100%, or a negative ETA.
    const total =
      this.estimatedTotal === undefined ? undefined : Math.max(this.estimatedTotal, processed);
    const event: RunEvent = {
      type: "progress",
      processed,
      estimatedTotal: done ? processed : total,
      rate,
      etaSeconds: done
        ? 0
        : total !== undefined && rate > 0
          ? (total - processed) / rate
          : undefined,
      counts: this.counts(),
      throttled,
      paused,
      done,
    };
    this.listener(event);
  }
}
