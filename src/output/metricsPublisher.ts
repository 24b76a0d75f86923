import type { Registry } from "prom-client";
import { pushToGateway, writeTextfile } from "./metrics.js";

export interface PublisherOptions {
  /** node_exporter textfile (*.prom), rewritten atomically. */
  file?: string | undefined;
  gateway?: string | undefined;
  /** The Pushgateway job the group is pushed under. */
  job: string;
  /** At most one publish per interval while the work goes on. */
  intervalMs: number;
  /** A failed publish while the work goes on, or any failed push: the work goes on. */
  warn: (message: string) => void;
}

/**
 * Where a long run's metrics go, to a textfile and/or a Pushgateway, while it runs and
 * when it ends: publishes one at a time, at most once per interval while the run goes on
 * (a failure then is a warning), and a push failure is said once until a push succeeds.
 */
export class MetricsPublisher {
  private lastMs = 0;
  private chain: Promise<void> = Promise.resolve();
  private pushFailing = false;

  constructor(private readonly o: PublisherOptions) {}

  /**
   * While the run goes on: `publish` runs in the background after the ones before it,
   * unless one ran less than an interval ago (then nothing is done).
   */
  maybe(publish: (p: MetricsPublisher) => Promise<void>): void {
    if (Date.now() - this.lastMs < this.o.intervalMs) return;
    this.lastMs = Date.now();
    this.chain = this.chain.then(() =>
      publish(this).catch((err: unknown) => this.o.warn(messageOf(err))),
    );
  }

  /** Resolves once the publishes started so far are done. */
  flushed(): Promise<void> {
    return this.chain;
  }

  /**
   * Write the textfile (`text` instead of the registry's own, if given; a failure rejects)
   * and push the registry: "replace" (PUT) the group, or "add" (POST) to it, replacing
   * only the metrics pushed. A push failure is a warning.
   */
  async send(registry: Registry, mode: "add" | "replace", text?: string): Promise<void> {
    if (this.o.file) await writeTextfile(text ?? registry, this.o.file);
    if (!this.o.gateway) return;
    try {
      await pushToGateway(registry, this.o.gateway, this.o.job, 10_000, mode);
      this.pushFailing = false;
    } catch (err) {
      if (!this.pushFailing) this.o.warn(messageOf(err));
      this.pushFailing = true;
    }
  }

  get file(): string | undefined {
    return this.o.file;
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
