import { InterruptedError, LockHeldError, MigrateError, RedisUnavailableError } from "../errors.js";
import type { ProgressTracker } from "./progressTracker.js";
import type { RunResult, RunSpec } from "./runSpec.js";
import type { StartedRun } from "./runStart.js";
import type { Throttle } from "./throttle.js";
import { isTopologyError } from "./topology.js";

/** How the walks ended, for the last step. */
export interface WalkEnd {
  /** The first failure of any walk (it stopped them all). */
  failure: unknown;
  throttle: Throttle;
  tracker: ProgressTracker;
  started: number;
  /** The finish hook, run at most once (see runScan). */
  finish: (completed: boolean) => Promise<void>;
}

/**
 * Step 5 of a run that walked to its end or stopped itself: a failure or a lost lock is
 * thrown; a pause past --max-pause or a signal saves the checkpoint as interrupted (exit
 * 130); otherwise the run is recorded as completed, its result kept, the lock released.
 */
export async function endRun(spec: RunSpec, run: StartedRun, end: WalkEnd): Promise<RunResult> {
  const { checkpoint, lock, state } = run;
  if (end.failure !== undefined) throw end.failure;
  if (lock.lost)
    throw new LockHeldError(
      `lost the ${spec.name} lock (it expired or was released by force); stopped after the current batch`,
    );
  const expired = end.throttle.expired;
  await end.finish(expired === undefined && !spec.signal?.aborted);
  if (expired !== undefined) {
    await checkpoint.setStatus("interrupted");
    throw new InterruptedError(
      `paused longer than --max-pause (${expired}): checkpoint saved after ${end.tracker.processed()} keys; run the same command again to resume`,
    );
  }
  if (spec.signal?.aborted) {
    await checkpoint.setStatus("interrupted");
    throw new InterruptedError(
      `interrupted: checkpoint saved after ${end.tracker.processed()} keys; run the same command again to resume`,
    );
  }
  const finishedAt = new Date().toISOString();
  const result: RunResult = {
    runId: run.runId,
    name: spec.name,
    resumed: run.resumed,
    counts: end.tracker.counts(),
    findings: Object.values(state.nodes).flatMap((p) => p.findings),
    startedAt: state.startedAt,
    finishedAt,
    durationMs: Date.now() - end.started,
    masters: run.shards.length,
    topologyChanges: run.notes.length > 0 ? [...new Set(run.notes)] : undefined,
  };
  await checkpoint.setStatus("completed", { finishedAt });
  await spec.target.client.set(
    run.keys.lastResult,
    JSON.stringify(spec.lastResult ? spec.lastResult(result) : result),
  );
  await lock.release();
  return result;
}

/**
 * A run that threw: one it stopped itself (a MigrateError) still runs its finish hook,
 * is recorded as failed (unless interrupted) and releases its lock; any other error may
 * be Redis failing, so the lock is abandoned and the checkpoint updated on a best-effort
 * basis. Returns the error to throw: a bug stays a bug (exit 70), a connection or
 * topology failure becomes "Redis unavailable" (exit 3) with the checkpoint kept.
 */
export async function failRun(
  err: unknown,
  run: StartedRun,
  finish: (completed: boolean) => Promise<void>,
): Promise<unknown> {
  const { checkpoint, lock } = run;
  if (err instanceof MigrateError) {
    // A run that stopped itself still finishes what its finished batches began.
    await finish(false).catch(() => undefined);
    // A run that stopped itself (a guard, a lost lock) is not a dead run: say so.
    if (!(err instanceof InterruptedError)) {
      await checkpoint.setStatus("failed", { reason: err.message }).catch(() => undefined);
    }
    await lock.release().catch(() => lock.abandon());
    return err;
  }
  lock.abandon();
  // Best effort: Redis may be the thing that failed. The last saved checkpoint stays.
  await Promise.race([
    checkpoint.setStatus("failed").then(() => lock.release()),
    new Promise((r) => setTimeout(r, 1000)),
  ]).catch(() => undefined);
  // A bug (a TypeError, a script error) is not an outage: the CLI reports it as one (70).
  if (!isTopologyError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new RedisUnavailableError(
    `Redis command kept failing (${msg}); the checkpoint is kept, run the same command again to resume`,
    { cause: err },
  );
}
