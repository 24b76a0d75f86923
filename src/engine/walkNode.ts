import type { MasterNode } from "../redis/target.js";
import type { Checkpoint, NodeProgress } from "./checkpoint.js";
import type { ProgressTracker } from "./progressTracker.js";
import type { RateLimiter } from "./rateLimiter.js";
import type { Throttle } from "./throttle.js";
import type { BatchOutcome, PassSpec } from "./runSpec.js";
import { globPrefix, scanStep, type ScanStep } from "./scanNode.js";

export interface WalkContext {
  checkpoint: Checkpoint;
  /** The checkpoint field of this node in this pass. */
  progressId: string;
  limiter: RateLimiter;
  tracker: ProgressTracker;
  throttle: Throttle;
  findingsCap: number;
  signal: AbortSignal | undefined;
  stop: () => boolean;
  resumed: boolean;
}

/** A batch's outcome applied to the node's progress (deferred keys are not yet scanned). */
export function account(
  progress: NodeProgress,
  keys: number,
  outcome: BatchOutcome,
  cap: number,
): void {
  progress.counts.scanned = (progress.counts.scanned ?? 0) + keys - (outcome.deferred ?? 0);
  for (const [k, v] of Object.entries(outcome.counts)) {
    progress.counts[k] = (progress.counts[k] ?? 0) + v;
  }
  for (const f of outcome.findings) {
    if (progress.findings.length >= cap) break;
    progress.findings.push(f);
  }
}

/**
 * Batches in flight at most, counting those parked (see BatchContext.parked): enough to
 * keep the server busy while many batches wait out verify's re-check delays.
 */
const MAX_IN_FLIGHT = 64;

/**
 * One pass over one master: SCAN batches from the saved cursor, checkpoint after each.
 * Two batches work the server at a time: batch k+1 is sent while batch k is still being
 * worked on, so the server never waits for the client between them; a batch that parks
 * (only waits now) makes room for the next. They are accounted and checkpointed strictly
 * in order (k before k+1), and a stop (signal, pause past its limit, error) lets the
 * batches in flight finish first: a checkpoint only ever claims batches that are done.
 */
export async function walkNode(
  pass: PassSpec,
  node: MasterNode,
  progress: NodeProgress,
  ctx: WalkContext,
): Promise<void> {
  const scanSpec = { match: globPrefix(pass.keyPrefix), type: pass.keyType };
  const scan = (cursor: string): Promise<ScanStep> => {
    const p = scanStep(node.client, cursor, scanSpec, ctx.throttle.batchSizeFor(node.id));
    p.catch(() => undefined); // awaited later; a prefetch abandoned on stop must not crash
    return p;
  };
  let recheck = ctx.resumed;
  let pending = progress.done ? undefined : scan(progress.cursor);
  // The batch before this one, settled once it is accounted and its save is sent;
  // resolves to when it stopped working the server (done or parked).
  let previous: Promise<number> = Promise.resolve(0);
  // When the batch before this one stopped working the server.
  let previousFreed: Promise<number> = Promise.resolve(0);
  // Batches not yet accounted, oldest first.
  const inFlight: Promise<number>[] = [];
  let failed = false;
  // Saves go out in order on one connection, so the checkpoint never runs ahead.
  let saving: Promise<unknown> = Promise.resolve();
  try {
    while (pending && !ctx.stop() && !failed) {
      if (!(await ctx.throttle.beforeBatch())) break;
      const step = await pending;
      const throttled = await ctx.limiter.take(step.keys.length, ctx.signal);
      if (ctx.stop()) break;
      // Prefetch the next SCAN so its round trip overlaps this batch's work.
      pending = step.cursor === "0" ? undefined : scan(step.cursor);
      const sentAt = Date.now();
      let park = (): void => undefined;
      const parked = new Promise<void>((resolve) => (park = resolve));
      const work =
        step.keys.length > 0
          ? pass.processBatch(step.keys, { node, recheck, parked: () => park() })
          : undefined;
      work?.catch(() => undefined); // its error surfaces in order, below
      const freed = (work ? Promise.race([work, parked]) : Promise.resolve()).then(() =>
        Date.now(),
      );
      freed.catch(() => undefined);
      recheck = false;
      const before = previous;
      const beforeFreed = previousFreed;
      previous = (async () => {
        try {
          const outcome = work ? await work : undefined;
          const freedAt = await freed;
          const prevFreedAt = await before;
          if (outcome) {
            // Its own time on the server: from when the batch before was out of the way.
            const ms = freedAt - Math.max(sentAt, prevFreedAt);
            ctx.throttle.afterBatch(node.id, step.keys.length, ms);
            account(progress, step.keys.length, outcome, ctx.findingsCap);
          }
          progress.cursor = step.cursor;
          progress.done = step.cursor === "0";
          // Not awaited here: a save sent now waits behind the batches already queued on the
          // server, and waiting for it would leave the server idle between batches.
          saving = Promise.all([saving, ctx.checkpoint.saveNode(ctx.progressId, progress)]);
          saving.catch(() => undefined); // surfaces below
          ctx.tracker.emit(throttled, ctx.throttle.pausedFor);
          return freedAt;
        } finally {
          // In order even when this batch failed before the one before it ended.
          await before.catch(() => undefined);
          inFlight.shift();
        }
      })();
      previous.catch(() => (failed = true));
      inFlight.push(previous);
      previousFreed = freed;
      // At most two working the server: the batch before this one must be done or parked.
      await beforeFreed;
      while (inFlight.length >= MAX_IN_FLIGHT) await inFlight[0];
    }
  } finally {
    // Whatever happened, nothing is left running: a failed batch's successor still ends.
    await previous.catch(() => undefined);
  }
  await previous;
  await saving;
}
