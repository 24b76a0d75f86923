import type { MasterNode } from "../redis/target.js";
import type { Checkpoint, NodeProgress } from "./checkpoint.js";
import type { ProgressTracker } from "./progressTracker.js";
import type { RateLimiter } from "./rateLimiter.js";
import type { Throttle } from "./throttle.js";
import type { PassSpec } from "./runSpec.js";
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

/** One pass over one master: SCAN batches from the saved cursor, checkpoint after each. */
export async function walkNode(
  pass: PassSpec,
  node: MasterNode,
  progress: NodeProgress,
  ctx: WalkContext,
): Promise<void> {
  const scanSpec = { match: globPrefix(pass.keyPrefix), type: pass.keyType };
  const scan = (cursor: string): Promise<ScanStep> => {
    const p = scanStep(node.client, cursor, scanSpec, ctx.throttle.batchSize);
    p.catch(() => undefined); // awaited later; a prefetch abandoned on stop must not crash
    return p;
  };
  let recheck = ctx.resumed;
  let pending = progress.done ? undefined : scan(progress.cursor);
  // The save of batch k overlaps the work of batch k+1: it only claims batch k, which is
  // done, and saves go out in order on one connection, so the checkpoint never runs ahead.
  let saving: Promise<unknown> = Promise.resolve();
  while (pending && !ctx.stop()) {
    if (!(await ctx.throttle.beforeBatch())) break;
    const step = await pending;
    const throttled = await ctx.limiter.take(step.keys.length, ctx.signal);
    if (ctx.stop()) break;
    // Prefetch the next SCAN so its round trip overlaps this batch's work.
    pending = step.cursor === "0" ? undefined : scan(step.cursor);
    if (step.keys.length > 0) {
      const t0 = Date.now();
      const outcome = await pass.processBatch(step.keys, { node, recheck });
      ctx.throttle.afterBatch(step.keys.length, Date.now() - t0);
      recheck = false;
      progress.counts.scanned = (progress.counts.scanned ?? 0) + step.keys.length;
      for (const [k, v] of Object.entries(outcome.counts)) {
        progress.counts[k] = (progress.counts[k] ?? 0) + v;
      }
      for (const f of outcome.findings) {
        if (progress.findings.length >= ctx.findingsCap) break;
        progress.findings.push(f);
      }
    }
    progress.cursor = step.cursor;
    progress.done = step.cursor === "0";
    await saving;
    saving = ctx.checkpoint.saveNode(ctx.progressId, progress);
    ctx.tracker.emit(throttled, ctx.throttle.pausedFor);
  }
  await saving;
}
