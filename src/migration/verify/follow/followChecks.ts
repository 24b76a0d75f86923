import type { BatchContext, BatchOutcome, ProcessBatch } from "../../../engine/runSpec.js";
import type { MasterNode, RedisTarget } from "../../../redis/target.js";
import { withBaseline } from "../../shared/baseline.js";
import type { DivergenceRecord } from "../divergenceReport.js";
import type { PairOutcome } from "../verifyCompare.js";
import { verifyPairs, type VerifySettings } from "../verifyPairs.js";
import type { FollowOptions, FollowSnapshot } from "./followTypes.js";
import type { TouchedPairs, TouchedPair } from "./touchedPairs.js";

/** Pairs checked in one call of verify's batch path, and calls in flight: most of a call is
 * its recheck delays, so many wait side by side and a pair never queues behind them. */
const BATCH = 128;
const IN_FLIGHT = 32;

/**
 * Checks settled pairs through verify's own batch path (direct reads, the exact comparer,
 * recheck rounds, report, repair; unmigratable keys against the accepted set), a few
 * batches in flight. Measures each event-learned pair's lag from its last write: at its
 * first comparison when that settles it, after the re-checks when it does not. A pair
 * confirmed again later in the session (re-written, or swept after a gap) is counted
 * `reconfirmed` and not reported twice: confirmed counts distinct pairs.
 */
export class FollowChecks {
  private readonly inFlight = new Set<Promise<void>>();
  /** Event-learned pairs in flight, by old key (latin1), for their lag. */
  private readonly lagOf = new Map<string, TouchedPair>();
  private readonly confirmedKeys = new Set<string>();
  private readonly repeats = new Set<string>();
  private readonly batch: ProcessBatch;
  private lastOkMs = Date.now();
  /** Set when checks kept failing longer than o.failAfterMs: the session ends with it. */
  failure: unknown;

  constructor(
    target: RedisTarget,
    private readonly o: FollowOptions,
    private readonly snap: FollowSnapshot,
    private readonly touched: TouchedPairs,
  ) {
    const settings: VerifySettings = {
      compare: {
        schema: o.schema,
        ttlToleranceMs: o.ttlToleranceMs,
        workspaces: o.workspaces ? new Set(o.workspaces) : undefined,
      },
      sampleFraction: 1, // sampled when touched
      recheck: { rounds: o.recheckRounds, delayMs: o.recheckDelayMs },
      repair: o.repair,
      sink: (rec) => this.report(rec),
      plan: o.plan,
      compared: (keys, outcomes) => this.compared(keys, outcomes),
    };
    this.batch = withBaseline(target.client, o.statePrefix, verifyPairs(target, settings), false);
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  /** Start checks of the settled pairs while there is room. */
  pump(): void {
    while (this.inFlight.size < IN_FLIGHT) {
      const due = this.touched.takeSettled(Date.now(), this.o.settleMs, BATCH);
      if (due.length === 0) return;
      this.dispatch(due);
    }
  }

  /** Every check started so far, finished. */
  async drained(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private dispatch(pairs: TouchedPair[]): void {
    for (const p of pairs) if (p.source === "event") this.lagOf.set(p.oldKey.toString("latin1"), p);
    const node = { id: "follow", address: "", serverRunId: "" } as MasterNode;
    const ctx: BatchContext = { node, recheck: false, parked: () => undefined };
    const done = this.batch(
      pairs.map((p) => p.oldKey),
      ctx,
    ).then(
      (out) => this.settled(pairs, out),
      (err: unknown) => {
        for (const p of pairs) this.lagOf.delete(p.oldKey.toString("latin1"));
        // A failover or a lost connection: the pairs wait for the next try.
        this.touched.requeue(pairs, Date.now());
        this.add("retried", pairs.length);
        if (Date.now() - this.lastOkMs > this.o.failAfterMs) this.failure ??= err;
      },
    );
    const tracked = done.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private settled(pairs: TouchedPair[], out: BatchOutcome): void {
    this.lastOkMs = Date.now();
    for (const f of out.findings) {
      const rec = f.data as DivergenceRecord | undefined;
      if (rec?.status === "confirmed" && this.repeats.delete(rec.oldKey)) {
        // Counted once already: move it from confirmed to reconfirmed.
        this.add("confirmed", -1);
        for (const k of rec.kinds) this.add(`confirmed.${k}`, -1);
        this.add("reconfirmed");
        continue;
      }
      if (this.snap.findings.length < this.o.findingsCap) this.snap.findings.push(f);
    }
    for (const [k, v] of Object.entries(out.counts)) this.add(k, v);
    for (const p of pairs) this.observe(p.oldKey.toString("latin1"));
  }

  private compared(keys: Buffer[], outcomes: PairOutcome[]): void {
    outcomes.forEach((o, i) => {
      if (o.kind !== "divergent") this.observe(keys[i]!.toString("latin1"));
    });
  }

  private observe(id: string): void {
    const p = this.lagOf.get(id);
    if (!p) return;
    this.lagOf.delete(id);
    const ms = Date.now() - p.lastMs;
    this.snap.lag.observe(ms);
    this.o.onLag?.(ms);
  }

  /** The --report sink, once per confirmed pair (the set is bounded: then no dedup). */
  private async report(rec: DivergenceRecord): Promise<void> {
    if (rec.status === "confirmed" && rec.kinds[0] !== "unmigratable") {
      if (this.confirmedKeys.has(rec.oldKey)) {
        this.repeats.add(rec.oldKey);
        return;
      }
      if (this.confirmedKeys.size < this.o.maxPending) this.confirmedKeys.add(rec.oldKey);
    }
    await this.o.sink?.(rec);
  }

  private add(k: string, n = 1): void {
    this.snap.counts[k] = (this.snap.counts[k] ?? 0) + n;
  }
}
