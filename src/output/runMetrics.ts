import { readFile } from "node:fs/promises";
import { Gauge, type Registry } from "prom-client";
import { addBuildInfo, scopedRegistry } from "./metrics.js";
import { MetricsPublisher } from "./metricsPublisher.js";

/** The figures of a progress event (the engine's RunEvent "progress", as a sink sees it). */
export interface RunProgress {
  processed: number;
  estimatedTotal: number | undefined;
  rate: number;
  etaSeconds: number | undefined;
  counts: Record<string, number>;
  throttled: boolean;
  paused?: string | undefined;
}

export interface RunMetricsOptions {
  /** backfill, verify, cleanup, restore, backfill-reverse: the `subcommand` label and the job. */
  subcommand: string;
  /** The run's scope (a label on every series): "all", "workspaces=ws-1", … */
  scope: string;
  file?: string | undefined;
  gateway?: string | undefined;
  /** At most one write and one push per interval while the run goes on. */
  intervalMs: number;
  /** A push that failed (the run goes on); said once until a push succeeds again. */
  warn: (message: string) => void;
}

export interface RunEnd {
  /** The run's exit status (0 clean, 1 problems found, 130 interrupted, …). */
  exitCode: number;
  /** The run's counters; undefined (a run that failed) keeps those of its last progress. */
  counts?: Record<string, number> | undefined;
  durationSeconds: number;
  finishedAt: Date;
}

/** Code-defined counter names ("copied", "confirmed.missing_field"); anything else is "other". */
const COUNTER = /^[A-Za-z][A-Za-z0-9_.]{0,62}$/;
const FAMILY = "jobs_migrate_run_";

/**
 * Prometheus metrics of one run of any subcommand, while it runs and when it ends:
 * `jobs_migrate_run_*` gauges labelled `subcommand` and `scope` (keys done, estimate,
 * rate, ETA, paused, in progress, outcomes by counter, exit status, last completion), and
 * `jobs_migrate_build_info`. To a node_exporter textfile and/or a Pushgateway.
 *
 * While the run goes on, the textfile keeps every other family it holds (a verify's
 * `jobs_migrate_verify_*` of the last run stay until this one replaces them) and a push
 * is a POST, which replaces only these gauges in the group; at the end the file and the
 * group are replaced whole (PUT), with `extra` (a verify's own metrics) beside them.
 */
export class RunMetrics {
  private readonly registry: Registry;
  private readonly g: Record<string, Gauge>;
  private readonly publisher: MetricsPublisher;
  private ended = false;
  /** When the run began (ms since the epoch): its metrics were set up first thing. */
  readonly startedMs = Date.now();

  constructor(private readonly opts: RunMetricsOptions) {
    this.registry = scopedRegistry(opts.scope);
    this.publisher = new MetricsPublisher({
      ...opts,
      job: `jobs_migrate_${opts.subcommand.replace(/\W/g, "_")}`,
    });
    // An explicit label, not a default one: the gauges also go into verify's registry.
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({
        name: `${FAMILY}${name}`,
        help,
        labelNames: ["subcommand", ...labelNames],
        registers: [this.registry],
      });
    this.g = {
      inProgress: gauge("in_progress", "1 while a run is going on, 0 once it has ended."),
      processed: gauge(
        "keys_processed",
        "Keys handled by the run so far (a resumed run counts its earlier part).",
      ),
      estimated: gauge(
        "keys_estimated",
        "Keys the run expects to visit (sampled estimate; 0: unknown).",
      ),
      rate: gauge("keys_per_second", "Keys per second of the run, lately."),
      eta: gauge("eta_seconds", "Seconds left at the current rate (-1: unknown)."),
      paused: gauge("paused", "1 while the run waits on a load guard or ctl pause, else 0."),
      throttled: gauge("throttled", "1 while --rate holds the run back, else 0."),
      outcomes: gauge("outcomes", "Keys of the run by outcome (the summary's counters).", [
        "outcome",
      ]),
      exitCode: gauge("exit_code", "The exit status of the last run that ended (0: clean)."),
      finished: gauge("last_end_timestamp_seconds", "When the last run ended (any exit status)."),
      completed: gauge(
        "last_completed_timestamp_seconds",
        "When the last run completed (exit 0 or 1).",
      ),
      duration: gauge("duration_seconds", "How long the last run that ended took."),
    };
    addBuildInfo(this.registry);
    this.set("inProgress", 1);
  }

  private set(name: string, value: number, labels: Record<string, string> = {}): void {
    this.g[name]!.set({ subcommand: this.opts.subcommand, ...labels }, value);
  }

  /** A progress event: update the gauges; write/push at most once per interval. */
  progress(p: RunProgress): void {
    if (this.ended) return;
    this.set("processed", p.processed);
    this.set("estimated", p.estimatedTotal ?? 0);
    this.set("rate", p.rate);
    this.set("eta", p.etaSeconds ?? -1);
    this.set("paused", p.paused ? 1 : 0);
    this.set("throttled", p.throttled ? 1 : 0);
    this.setOutcomes(p.counts);
    this.publisher.maybe(async (pub) => pub.send(this.registry, "add", await this.keepingOthers()));
  }

  /** Resolves once the writes and pushes asked for so far are done. */
  flushed(): Promise<void> {
    return this.publisher.flushed();
  }

  /**
   * The run ended: final gauges, the file and the group replaced whole. A textfile that
   * cannot be written rejects (LocalFailureError: exit 6); a push that fails is a warning.
   */
  async end(end: RunEnd, extra?: Registry): Promise<void> {
    this.ended = true;
    await this.publisher.flushed();
    this.set("inProgress", 0);
    if (end.counts) this.setOutcomes(end.counts);
    this.set("exitCode", end.exitCode);
    this.set("finished", end.finishedAt.getTime() / 1000);
    if (end.exitCode === 0 || end.exitCode === 1)
      this.set("completed", end.finishedAt.getTime() / 1000);
    this.set("duration", end.durationSeconds);
    if (extra) for (const g of Object.values(this.g)) extra.registerMetric(g);
    await this.publisher.send(extra ?? this.registry, "replace");
  }

  private setOutcomes(counts: Record<string, number>): void {
    const outcomes = this.g.outcomes!;
    outcomes.reset();
    for (const [name, value] of Object.entries(counts))
      outcomes.inc(
        { subcommand: this.opts.subcommand, outcome: COUNTER.test(name) ? name : "other" },
        value,
      );
  }

  /**
   * Mid-run textfile: this run's families replaced, every other family kept (the last
   * verify's stay until this run ends); undefined without a textfile.
   */
  private async keepingOthers(): Promise<string | undefined> {
    const file = this.publisher.file;
    if (file === undefined) return undefined;
    const before = await readFile(file, "utf8").catch(() => "");
    return `${otherFamilies(before)}${await this.registry.metrics()}`;
  }
}

/** The textfile's lines of every family but jobs_migrate_run_* and the build info. */
export function otherFamilies(text: string): string {
  const ours = (line: string) => {
    const name = line.startsWith("# ") ? (line.split(" ")[2] ?? "") : line.split(/[{ ]/)[0]!;
    return name.startsWith(FAMILY) || name === "jobs_migrate_build_info";
  };
  const lines = text.split("\n").filter((l) => l !== "" && !ours(l));
  return lines.length ? `${lines.join("\n")}\n` : "";
}
