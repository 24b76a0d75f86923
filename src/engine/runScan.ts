import { randomUUID } from "node:crypto";
import calculateSlot from "cluster-key-slot";
import {
  InterruptedError,
  LockHeldError,
  MigrateError,
  RedisUnavailableError,
  UsageError,
} from "../errors.js";
import type { MasterNode } from "../redis/target.js";
import { Checkpoint, fingerprintOf, type CheckpointState } from "./checkpoint.js";
import { estimateKeys } from "./estimate.js";
import { LoadGuard } from "./loadGuard.js";
import { Throttle } from "./throttle.js";
import { ProgressTracker } from "./progressTracker.js";
import { RateLimiter } from "./rateLimiter.js";
import { describeOwner, RunLock } from "./runLock.js";
import type { PassSpec, RunResult, RunSpec } from "./runSpec.js";
import { stateKeys } from "./stateKeys.js";
import { rescanSlots } from "./rescanSlots.js";
import { fromRanges, toRanges } from "./slotRanges.js";
import { progressId, RESCAN, ShardProgress } from "./shardProgress.js";
import { isTopologyError, shardsOf, SlotWatch, Topology, type Shard } from "./topology.js";
import { walkShard, type ShardContext } from "./walkShard.js";

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
 */
export async function runScan(spec: RunSpec): Promise<RunResult> {
  const client = spec.target.client;
  const keys = stateKeys(spec.statePrefix, spec.scope);
  const checkpoint = new Checkpoint(client, keys.checkpoint);
  const fingerprint = fingerprintOf(spec.definingOptions);
  const options = JSON.stringify(spec.definingOptions);
  const log = (level: "info" | "warn", message: string): void =>
    spec.onEvent?.({ type: "log", level, message });

  // Refusals come before the lock is taken, so bad input writes nothing.
  const saved = await checkpoint.load();
  const resumable = saved !== undefined && saved.status !== "completed" && !spec.restart;
  if (resumable && saved.fingerprint !== fingerprint) {
    throw new UsageError(
      `the saved ${spec.name} checkpoint (run ${saved.runId}, started ${saved.startedAt}) was made with other options ` +
        `(saved ${saved.options}, now ${options}): run again with the same options, or add --restart to start over`,
    );
  }
  const notes: string[] = [];
  const topologyLog = (level: "info" | "warn", message: string): void => {
    notes.push(message);
    log(level, message);
  };
  const topology = new Topology(spec.target, spec.settleMs ?? 120_000, topologyLog);
  let shards = shardsOf(await topology.settled(`connecting for ${spec.name}`));
  const masters = (): MasterNode[] => shards.map((sh) => sh.node);

  const runId = resumable ? saved.runId : randomUUID().slice(0, 8);
  const lock = new RunLock(client, keys.lock, RunLock.ownerFor(runId), spec.lockTtlMs);
  await lock.acquire(spec.name);
  // A ctl request addresses the run that was going when it was sent, not a new one.
  await client.del(keys.control);
  if (lock.tookOverFrom)
    log("warn", `took over the lock of a dead run: ${describeOwner(lock.tookOverFrom)}`);

  const owner = `${lock.owner.host}:${lock.owner.pid}`;
  const state: CheckpointState = resumable
    ? { ...saved, status: "running" }
    : {
        runId,
        status: "running",
        fingerprint,
        options,
        version: spec.version,
        startedAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
        owner,
        nodes: {},
      };
  const progress = new ShardProgress(state.nodes, checkpoint, topologyLog);
  const started = Date.now();
  let failure: unknown;
  // The finish hook runs once: after the last batch, or when the run stops itself.
  let finishing: Promise<void> | undefined;
  const finish = (completed: boolean): Promise<void> =>
    (finishing ??= Promise.resolve(spec.finish?.(completed)));
  let sideConnections = () => undefined as void;
  try {
    if (resumable) {
      await checkpoint.setStatus("running", { owner });
    } else {
      await checkpoint.create(state);
    }
    if (!progress.passDone(spec.passes[0]!.name))
      await progress.reconcile(spec.passes[0]!.name, shards);
    await spec.prepare?.({ runId, resumed: resumable });
    let estimate = 0;
    for (const pass of spec.passes)
      estimate += await estimateKeys(masters(), Buffer.from(pass.keyPrefix));
    const tracker = new ProgressTracker(state.nodes, estimate, spec.onEvent);
    if (resumable)
      log(
        "info",
        `resuming ${spec.name} run ${runId} from its checkpoint (${tracker.processed()} keys already done)`,
      );
    const limiter = new RateLimiter(spec.rate);
    // The control key and the load guards are read on connections of their own: behind a
    // batch in flight on the main one, each read would hold up the next batch (and a
    // PING there would time the tool's own queue, not the server).
    const side = client.duplicate();
    side.on("error", () => undefined); // its commands fail and say why
    const guard = new LoadGuard(masters, spec.loadLimits ?? {}, (m) => log("warn", m));
    sideConnections = () => {
      throttle.close();
      side.disconnect();
      guard.close();
    };
    const throttle = new Throttle({
      client: side,
      controlKey: keys.control,
      guard,
      limiter,
      batchSize: spec.batchSize,
      targetBatchMs: spec.targetBatchMs,
      maxPauseMs: spec.maxPauseMs ?? 3_600_000,
      signal: spec.signal,
      onEvent: spec.onEvent,
    });
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
      shards = shardsOf(await topology.settled(`starting pass ${pass.name}`));
      await progress.reconcile(pass.name, shards);
      await walkPass(pass, shards, {
        nodes: state.nodes,
        fail: (err) => {
          failure ??= err;
        },
        checkpoint,
        limiter,
        tracker,
        throttle,
        stop,
        resumed: resumable,
        findingsCap: spec.findingsCap,
        signal: spec.signal,
        topology,
        log: topologyLog,
      });
    }
    sideConnections();
    if (failure !== undefined) throw failure;
    if (lock.lost)
      throw new LockHeldError(
        `lost the ${spec.name} lock (it expired or was released by force); stopped after the current batch`,
      );
    await finish(throttle.expired === undefined && !spec.signal?.aborted);
    if (throttle.expired !== undefined) {
      await checkpoint.setStatus("interrupted");
      throw new InterruptedError(
        `paused longer than --max-pause (${throttle.expired}): checkpoint saved after ${tracker.processed()} keys; run the same command again to resume`,
      );
    }
    if (spec.signal?.aborted) {
      await checkpoint.setStatus("interrupted");
      throw new InterruptedError(
        `interrupted: checkpoint saved after ${tracker.processed()} keys; run the same command again to resume`,
      );
    }
    const finishedAt = new Date().toISOString();
    const result: RunResult = {
      runId,
      name: spec.name,
      resumed: resumable,
      counts: tracker.counts(),
      findings: Object.values(state.nodes).flatMap((p) => p.findings),
      startedAt: state.startedAt,
      finishedAt,
      durationMs: Date.now() - started,
      masters: shards.length,
      topologyChanges: notes.length > 0 ? [...new Set(notes)] : undefined,
    };
    await checkpoint.setStatus("completed", { finishedAt });
    await client.set(
      keys.lastResult,
      JSON.stringify(spec.lastResult ? spec.lastResult(result) : result),
    );
    await lock.release();
    return result;
  } catch (err) {
    sideConnections();
    if (err instanceof MigrateError) {
      // A run that stopped itself still finishes what its finished batches began.
      await finish(false).catch(() => undefined);
      // A run that stopped itself (a guard, a lost lock) is not a dead run: say so.
      if (!(err instanceof InterruptedError)) {
        await checkpoint.setStatus("failed", { reason: err.message }).catch(() => undefined);
      }
      await lock.release().catch(() => lock.abandon());
      throw err;
    }
    lock.abandon();
    // Best effort: Redis may be the thing that failed. The last saved checkpoint stays.
    await Promise.race([
      checkpoint.setStatus("failed").then(() => lock.release()),
      new Promise((r) => setTimeout(r, 1000)),
    ]).catch(() => undefined);
    // A bug (a TypeError, a script error) is not an outage: the CLI reports it as one (70).
    if (!isTopologyError(err)) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new RedisUnavailableError(
      `Redis command kept failing (${msg}); the checkpoint is kept, run the same command again to resume`,
      { cause: err },
    );
  }
}

type PassContext = Omit<ShardContext, "watch" | "progressId"> & {
  nodes: CheckpointState["nodes"];
  /** Records the run's first failure (which makes `stop()` true for every walk). */
  fail: (err: unknown) => void;
};

/**
 * One pass over the shards of now: every shard walked at once, with a SlotWatch deferring
 * what moves; then, unless the run is stopping, the slots owed are rescanned by slot.
 */
async function walkPass(pass: PassSpec, shards: Shard[], ctx: PassContext): Promise<void> {
  const { nodes, fail, ...rest } = ctx;
  const rescanId = progressId(pass.name, RESCAN);
  const owed = nodes[rescanId]!;
  const watch = new SlotWatch(
    ctx.topology,
    shards,
    fromRanges(owed.pendingSlots ?? ""),
    (slots) => {
      owed.pendingSlots = slots.size > 0 ? toRanges(slots) : undefined;
      owed.done = slots.size === 0;
      return ctx.checkpoint.saveNode(rescanId, owed).then(() => undefined);
    },
    ctx.log,
  );
  const common = { ...rest, watch };
  watch.start();
  try {
    await Promise.all(
      shards.map((shard) => {
        const id = progressId(pass.name, shard.key);
        return walkShard(pass, shard, nodes[id]!, { ...common, progressId: id }).catch(fail);
      }),
    );
    if (!ctx.stop()) {
      // Whatever moved while the walks ran, up to their very end, is owed too.
      await watch.poll();
      await rescanSlots(pass, owed, {
        ...common,
        progressId: rescanId,
        batchSize: ctx.throttle.batchSizeFor("rescan"),
        slotOf: (k) => calculateSlot(k),
      }).catch(fail);
    }
  } finally {
    await watch.stop();
  }
}
