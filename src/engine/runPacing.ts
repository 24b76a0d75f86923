import type { MasterNode } from "../redis/target.js";
import { LoadGuard } from "./loadGuard.js";
import { RateLimiter } from "./rateLimiter.js";
import type { RunSpec } from "./runSpec.js";
import { Throttle } from "./throttle.js";
import type { RunLog } from "./runStart.js";

/** What paces a run's batches: the rate limit, the ctl key and the load guards. */
export interface Pacing {
  limiter: RateLimiter;
  throttle: Throttle;
  /** Close the side connection and the guards' connections (idempotent). */
  close(): void;
}

/**
 * Step 3 of a run: the control key and the load guards are read on connections of their
 * own: behind a batch in flight on the main one, each read would hold up the next batch
 * (and a PING there would time the tool's own queue, not the server).
 */
export function openPacing(
  spec: RunSpec,
  controlKey: string,
  masters: () => MasterNode[],
  log: RunLog,
): Pacing {
  const limiter = new RateLimiter(spec.rate);
  const side = spec.target.client.duplicate();
  side.on("error", () => undefined); // its commands fail and say why
  const guard = new LoadGuard(masters, spec.loadLimits ?? {}, (m) => log("warn", m));
  const throttle = new Throttle({
    client: side,
    controlKey,
    guard,
    limiter,
    batchSize: spec.batchSize,
    targetBatchMs: spec.targetBatchMs,
    maxPauseMs: spec.maxPauseMs ?? 3_600_000,
    signal: spec.signal,
    onEvent: spec.onEvent,
  });
  let closed = false;
  return {
    limiter,
    throttle,
    close: () => {
      if (closed) return;
      closed = true;
      throttle.close();
      side.disconnect();
      guard.close();
    },
  };
}
