import type { Cluster, Redis } from "ioredis";
import type { RunEventListener } from "./events.js";
import type { LoadGuard } from "./loadGuard.js";
import type { RateLimiter } from "./rateLimiter.js";
import { readControl, type ControlRequest } from "./runControl.js";
import { sleep } from "./time.js";

export interface ThrottleOptions {
  client: Redis | Cluster;
  controlKey: string;
  guard: LoadGuard;
  limiter: RateLimiter;
  /** Keys per SCAN batch; adapted per master when targetBatchMs is set, or set by ctl. */
  batchSize: number;
  targetBatchMs: number | undefined;
  /** A run paused longer than this stops (exit 130, checkpoint saved). */
  maxPauseMs: number;
  signal: AbortSignal | undefined;
  onEvent: RunEventListener | undefined;
}

/** How often a running run reads its control key (in the background). */
const CONTROL_EVERY_MS = 100;
const MIN_BATCH = 10;
const MAX_BATCH = 10_000;

/**
 * Everything that decides when and how big the next batch is: an operator's pause,
 * rate and batch size from the control key (read every 100 ms, so a change lands within
 * a batch or two), the load guards (a busy server pauses the run: it waits and
 * re-checks rather than dying), and adaptive sizing toward a target batch duration.
 */
export class Throttle {
  /** The batch size every master starts from (the option, or the last ctl batch=). */
  batchSize: number;
  /** Adapted sizes, per master: each answers for its own load. */
  private readonly adapted = new Map<string, number>();
  /** Why the run is waiting now (shown in progress), or undefined. */
  pausedFor: string | undefined;
  /** Set when a pause outlasted maxPauseMs: the run must stop. */
  expired: string | undefined;
  private lastControl = "";
  /** Called on every check while paused, so the progress line can say why. */
  onWait: (() => void) | undefined;

  /** The control key as last read in the background (undefined before the first read). */
  private latest: ControlRequest | undefined;
  private readonly reading = new AbortController();
  private readerStarted = false;

  constructor(private readonly o: ThrottleOptions) {
    this.batchSize = o.batchSize;
  }

  /**
   * Read the control key every CONTROL_EVERY_MS until close(). In the background: a read
   * waits behind the batch the server is running, and the next batch must not wait for
   * it (nor the server for the next batch).
   */
  private async readInBackground(): Promise<void> {
    const stop = this.reading.signal;
    while (!stop.aborted) {
      await sleep(CONTROL_EVERY_MS, stop);
      if (stop.aborted) break;
      try {
        this.latest = await readControl(this.o.client, this.o.controlKey);
      } catch {
        // Keep the last request: a server that stopped answering fails the batches.
      }
    }
  }

  /** Stop reading the control key. */
  close(): void {
    this.reading.abort();
  }

  private log(message: string): void {
    this.o.onEvent?.({ type: "log", level: "warn", message });
  }

  /** Wait until the next batch may start; false when the run must stop instead. */
  async beforeBatch(): Promise<boolean> {
    let since: number | undefined;
    for (;;) {
      if (this.o.signal?.aborted) return false;
      // Running: the background read. Starting, or waiting out a pause: a fresh one.
      let control = since === undefined ? this.latest : undefined;
      if (!control) {
        control = this.latest = await readControl(this.o.client, this.o.controlKey);
        // One reader for the run, however many masters' walkers start at once.
        if (!this.readerStarted) {
          this.readerStarted = true;
          void this.readInBackground();
        }
      }
      const seen = JSON.stringify(control);
      if (seen !== this.lastControl) {
        this.lastControl = seen;
        if (control.rate !== undefined && control.rate !== this.o.limiter.limit) {
          this.o.limiter.setRate(control.rate);
          this.log(
            `ctl: rate set to ${control.rate} keys/s${control.by ? ` by ${control.by}` : ""}`,
          );
        }
        if (control.batchSize !== undefined && control.batchSize !== this.batchSize) {
          this.batchSize = control.batchSize;
          this.adapted.clear();
          this.log(`ctl: batch size set to ${control.batchSize}`);
        }
      }
      const reason = control.paused
        ? `paused by ctl${control.by ? ` (${control.by})` : ""}`
        : await this.o.guard.reason();
      if (reason === undefined) {
        if (this.pausedFor) this.log(`resumed after: ${this.pausedFor}`);
        this.pausedFor = undefined;
        return true;
      }
      // Log a new reason, not every new measurement of the same one.
      const kind = (r: string | undefined) => r?.replace(/[\d.]+/g, "#");
      if (kind(this.pausedFor) !== kind(reason)) this.log(`pausing: ${reason}`);
      this.pausedFor = reason;
      this.onWait?.();
      since ??= Date.now();
      if (Date.now() - since > this.o.maxPauseMs) {
        this.expired = reason;
        return false;
      }
      await sleep(Math.min(1000, this.o.maxPauseMs), this.o.signal);
    }
  }

  /** The next SCAN COUNT for one master. */
  batchSizeFor(node: string): number {
    return this.adapted.get(node) ?? this.batchSize;
  }

  /**
   * Adapt one master's batch size toward the target duration (bounded, smoothed), from a
   * batch of `keys` that took `elapsedMs` of its own.
   */
  afterBatch(node: string, keys: number, elapsedMs: number): void {
    const target = this.o.targetBatchMs;
    if (target === undefined || keys === 0) return;
    const size = this.batchSizeFor(node);
    const ideal = (size * target) / Math.max(1, elapsedMs);
    this.adapted.set(
      node,
      Math.round(Math.min(MAX_BATCH, Math.max(MIN_BATCH, (size + ideal) / 2))),
    );
  }
}
