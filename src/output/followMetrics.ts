import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { addBuildInfo, scopedRegistry } from "./metrics.js";

/** The live figures a follow session exposes (see FollowSnapshot). */
export interface FollowFigures {
  counts: Record<string, number>;
  pending: number;
  admitting: number;
  followedMasters: number;
}

/** Counters that are not pair outcomes: series of their own (foreignEvents: none). */
const NOT_OUTCOMES = new Set(["events", "gaps", "sweeps", "foreignEvents"]);
const LABEL_VALUE = /^[a-z][a-z0-9_]{0,62}$/;
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * verify --follow's metrics, in a registry of its own that lives as long as the session:
 * counters since it began (rate() them), the queue, and the lag from a pair's last write
 * to the end of its check as a histogram. Written to the textfile and pushed every
 * interval; labels come only from code-defined names (kinds, outcomes), never from data.
 */
export class FollowMetrics {
  readonly registry: Registry;
  private readonly lag: Histogram;
  private readonly pairs: Counter;
  private readonly events: Counter;
  private readonly gaps: Counter;
  private readonly divergences: Counter;
  private readonly gauges: Record<"queue" | "admitting" | "masters" | "updated", Gauge>;
  private readonly seen = new Map<string, number>();

  constructor(scope: string) {
    this.registry = scopedRegistry(scope);
    const registers = [this.registry];
    const name = (n: string) => `jobs_migrate_follow_${n}`;
    this.lag = new Histogram({
      name: name("lag_seconds"),
      help: "From a touched pair's last write to the end of its check (event-learned pairs).",
      buckets: [0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 300],
      registers,
    });
    this.pairs = new Counter({
      name: name("pairs_total"),
      help: "Touched pairs by outcome since the session began (checked, equal, dropped …).",
      labelNames: ["outcome"],
      registers,
    });
    this.events = new Counter({
      name: name("events_total"),
      help: "Keyspace events received.",
      registers,
    });
    this.gaps = new Counter({
      name: name("gaps_total"),
      help: "Gaps in the events (lost subscription, failover), each caught up by a sweep.",
      registers,
    });
    this.divergences = new Counter({
      name: name("divergences_total"),
      help: "Divergent pairs by kind and status (transient: agreed on a re-check).",
      labelNames: ["kind", "status"],
      registers,
    });
    const gauge = (n: string, help: string) => new Gauge({ name: name(n), help, registers });
    this.gauges = {
      queue: gauge("queue_depth", "Touched pairs waiting for their settle time or a check."),
      admitting: gauge(
        "admitting_fraction",
        "Fraction of new touched pairs admitted (<1: sampling).",
      ),
      masters: gauge("masters_followed", "Masters whose keyspace events are being received."),
      updated: gauge("last_update_timestamp_seconds", "When these figures were taken."),
    };
    addBuildInfo(this.registry);
  }

  observeLag(ms: number): void {
    this.lag.observe(ms / 1000);
  }

  update(f: FollowFigures): void {
    for (const [key, value] of Object.entries(f.counts)) {
      const delta = value - (this.seen.get(key) ?? 0);
      if (delta <= 0) continue;
      this.seen.set(key, value);
      const [group, detail, ...rest] = key.split(".");
      if (detail === undefined) {
        if (key === "events") this.events.inc(delta);
        else if (key === "gaps") this.gaps.inc(delta);
        else if (!NOT_OUTCOMES.has(key) && LABEL_VALUE.test(snake(key)))
          this.pairs.inc({ outcome: snake(key) }, delta);
      } else if (group === "confirmed" || group === "transient") {
        const kind = rest.length === 0 && LABEL_VALUE.test(detail) ? detail : "other";
        this.divergences.inc({ kind, status: group }, delta);
      }
    }
    this.gauges.queue.set(f.pending);
    this.gauges.admitting.set(f.admitting);
    this.gauges.masters.set(f.followedMasters);
    this.gauges.updated.set(Date.now() / 1000);
  }
}
