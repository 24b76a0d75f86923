import { estimateKeys } from "./estimate.js";
import { ProgressTracker } from "./progressTracker.js";
import { endRun, failRun } from "./runEnd.js";
import { openPacing } from "./runPacing.js";
import type { RunResult, RunSpec } from "./runSpec.js";
import { markRunning, startRun } from "./runStart.js";
import { shardsOf } from "./topology.js";
import { walkPass } from "./walkPass.js";

export type {
  BatchContext,
  BatchOutcome,
  PassSpec,
  ProcessBatch,
  RunResult,
  RunSpec,
} from "./runSpec.js";

/**
 * Walk every key under each pass's prefix, on every master, in batches, checkpointing
 * after each batch; resume from the checkpoint by default. Knows nothing of what the
 * keys hold: each pass's `processBatch` does the work and returns counts and findings.
 *
 * The steps: start (refusals, topology, lock, checkpoint: runStart.ts), prepare, pace
 * (rate, ctl, load guards: runPacing.ts), walk each pass (walkPass.ts), then end
 * (result or interruption) or fail (error translation): runEnd.ts.
 */
export async function runScan(spec: RunSpec): Promise<RunResult> {
  const run = await startRun(spec);
  const { checkpoint, lock, log, progress, state } = run;
  const masters = () => run.shards.map((sh) => sh.node);
  const started = Date.now();
  let failure: unknown;
  // The finish hook runs once: after the last batch, or when the run stops itself.
  let finishing: Promise<void> | undefined;
  const finish = (completed: boolean): Promise<void> =>
    (finishing ??= Promise.resolve(spec.finish?.(completed)));
  let closePacing = (): void => undefined;
  try {
    await markRunning(run);
    const first = spec.passes[0]!.name;
    if (!progress.passDone(first)) await progress.reconcile(first, run.shards);
    await spec.prepare?.({ runId: run.runId, resumed: run.resumed });
    let estimate = 0;
    for (const pass of spec.passes)
      estimate += await estimateKeys(masters(), Buffer.from(pass.keyPrefix));
    const tracker = new ProgressTracker(state.nodes, estimate, spec.onEvent);
    if (run.resumed)
      log(
        "info",
        `resuming ${spec.name} run ${run.runId} from its checkpoint (${tracker.processed()} keys already done)`,
      );
    const { limiter, throttle, close } = openPacing(spec, run.keys.control, masters, log);
    closePacing = close;
    throttle.onWait = () => tracker.emit(false, throttle.pausedFor);
    const stop = (): boolean =>
      Boolean(spec.signal?.aborted) ||
      lock.lost ||
      failure !== undefined ||
      throttle.expired !== undefined;
    for (const pass of spec.passes) {
      if (stop()) break;
      if (progress.passDone(pass.name)) continue;
      // Each pass walks the shards of the moment it starts.
      run.shards = shardsOf(await run.topology.settled(`starting pass ${pass.name}`));
      await progress.reconcile(pass.name, run.shards);
      await walkPass(pass, run.shards, {
        nodes: state.nodes,
        fail: (err) => {
          failure ??= err;
        },
        checkpoint,
        limiter,
        tracker,
        throttle,
        stop,
        resumed: run.resumed,
        findingsCap: spec.findingsCap,
        signal: spec.signal,
        topology: run.topology,
        log: run.topologyLog,
      });
    }
    closePacing();
    return await endRun(spec, run, { failure, throttle, tracker, started, finish });
  } catch (err) {
    closePacing();
    throw await failRun(err, run, finish);
  }
}
