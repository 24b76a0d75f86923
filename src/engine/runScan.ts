import { randomUUID } from "node:crypto";
import {
  InterruptedError,
  LockHeldError,
  MigrateError,
  RedisUnavailableError,
  UsageError,
} from "../errors.js";
import type { MasterNode, RedisTarget } from "../redis/target.js";
import {
  Checkpoint,
  fingerprintOf,
  type CheckpointState,
  type Finding,
  type NodeProgress,
} from "./checkpoint.js";
import { estimateKeys } from "./estimate.js";
import type { RunEventListener } from "./events.js";
import { ProgressTracker } from "./progressTracker.js";
import { RateLimiter } from "./rateLimiter.js";
import { describeOwner, RunLock } from "./runLock.js";
import { globPrefix, scanStep, type ScanStep } from "./scanNode.js";
import { stateKeys } from "./stateKeys.js";

export interface BatchContext {
  node: MasterNode;
  /** First batch after a resume: it may have been half done when the last run died. */
  recheck: boolean;
}

export interface BatchOutcome {
  counts: Record<string, number>;
  findings: Finding[];
}

export type ProcessBatch = (keys: Buffer[], ctx: BatchContext) => Promise<BatchOutcome>;

export interface RunSpec {
  target: RedisTarget;
  /** Subcommand name, for messages and the lock owner ("backfill"). */
  name: string;
  /** Names the state keys; one run per scope at a time ("backfill", "backfill-reverse"). */
  scope: string;
  statePrefix: string;
  /** Options that define what the run does; a checkpoint made with others is refused. */
  definingOptions: Record<string, unknown>;
  version: string;
  /** Keys to walk: every key starting with this prefix (optionally of one type). */
  keyPrefix: string;
  keyType?: string | undefined;
  batchSize: number;
  rate: number;
  lockTtlMs: number;
  restart: boolean;
  /** How many findings to keep per node as a sample (counts are always complete). */
  findingsCap: number;
  signal?: AbortSignal | undefined;
  onEvent?: RunEventListener | undefined;
  processBatch: ProcessBatch;
}

export interface RunResult {
  runId: string;
  name: string;
  resumed: boolean;
  counts: Record<string, number>;
  findings: Finding[];
  startedAt: string;
  finishedAt: string;
  /** Time spent by this process (a resumed run counts only its own part). */
  durationMs: number;
  masters: number;
}

function fresh(node: MasterNode): NodeProgress {
  return {
    serverRunId: node.serverRunId,
    cursor: "0",
    done: false,
    counts: { scanned: 0 },
    findings: [],
  };
}

/**
 * Walk every key under a prefix, on every master, in batches, checkpointing after
 * each batch; resume from the checkpoint by default. Knows nothing of what the keys
 * hold: `processBatch` does the work and returns counts and findings.
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
  const masters = await spec.target.masters();
  if (resumable) {
    const savedIds = Object.keys(saved.nodes).sort().join(",");
    const nowIds = masters.map((m) => m.id).join(",");
    if (savedIds !== nowIds) {
      throw new UsageError(
        `the saved ${spec.name} checkpoint was made on other masters (${Object.keys(saved.nodes).length} then, ` +
          `${masters.length} now): SCAN cursors do not survive a topology change; add --restart (re-processing is harmless)`,
      );
    }
  }

  const runId = resumable ? saved.runId : randomUUID().slice(0, 8);
  const lock = new RunLock(client, keys.lock, RunLock.ownerFor(runId), spec.lockTtlMs);
  await lock.acquire(spec.name);
  if (lock.tookOverFrom)
    log("warn", `took over the lock of a dead run: ${describeOwner(lock.tookOverFrom)}`);

  const state: CheckpointState =
    resumable && saved
      ? { ...saved, status: "running" }
      : {
          runId,
          status: "running",
          fingerprint,
          options,
          version: spec.version,
          startedAt: new Date().toISOString(),
          updatedAt: new Date().toISOString(),
          owner: `${lock.owner.host}:${lock.owner.pid}`,
          nodes: Object.fromEntries(masters.map((m) => [m.id, fresh(m)])),
        };
  if (resumable) {
    for (const node of masters) {
      const saved = state.nodes[node.id];
      if (saved && !saved.done && saved.serverRunId !== node.serverRunId) {
        log(
          "warn",
          `${node.address} restarted since the checkpoint: its SCAN cursor is void, rescanning that node from the start (re-processing is harmless)`,
        );
        state.nodes[node.id] = fresh(node);
      }
    }
  }
  const started = Date.now();
  let failure: unknown;
  try {
    if (resumable) {
      await checkpoint.setStatus("running", { owner: `${lock.owner.host}:${lock.owner.pid}` });
      for (const node of masters) await checkpoint.saveNode(node.id, state.nodes[node.id]!);
    } else {
      await checkpoint.create(state);
    }
    const tracker = new ProgressTracker(
      state.nodes,
      await estimateKeys(masters, Buffer.from(spec.keyPrefix)),
      spec.onEvent,
    );
    if (resumable)
      log(
        "info",
        `resuming ${spec.name} run ${runId} from its checkpoint (${tracker.processed()} keys already done)`,
      );
    const limiter = new RateLimiter(spec.rate);
    const stop = (): boolean => Boolean(spec.signal?.aborted) || lock.lost || failure !== undefined;
    const loops = masters.map((node) =>
      walkNode(spec, node, state.nodes[node.id] ?? fresh(node), {
        checkpoint,
        limiter,
        tracker,
        stop,
        resumed: resumable,
      }).catch((err: unknown) => {
        failure ??= err;
      }),
    );
    await Promise.all(loops);
    if (failure !== undefined) throw failure;
    if (lock.lost)
      throw new LockHeldError(
        `lost the ${spec.name} lock (it expired or was released by force); stopped after the current batch`,
      );
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
      masters: masters.length,
    };
    await checkpoint.setStatus("completed", { finishedAt });
    await client.set(keys.lastResult, JSON.stringify(result));
    await lock.release();
    return result;
  } catch (err) {
    if (err instanceof MigrateError) {
      await lock.release().catch(() => lock.abandon());
      throw err;
    }
    lock.abandon();
    // Best effort: Redis may be the thing that failed. The last saved checkpoint stays.
    await Promise.race([
      checkpoint.setStatus("failed").then(() => lock.release()),
      new Promise((r) => setTimeout(r, 1000)),
    ]).catch(() => undefined);
    const msg = err instanceof Error ? err.message : String(err);
    throw new RedisUnavailableError(
      `Redis command kept failing (${msg}); the checkpoint is kept, run the same command again to resume`,
      { cause: err },
    );
  }
}

interface WalkContext {
  checkpoint: Checkpoint;
  limiter: RateLimiter;
  tracker: ProgressTracker;
  stop: () => boolean;
  resumed: boolean;
}

async function walkNode(
  spec: RunSpec,
  node: MasterNode,
  progress: NodeProgress,
  ctx: WalkContext,
): Promise<void> {
  const scanSpec = { match: globPrefix(spec.keyPrefix), type: spec.keyType };
  const scan = (cursor: string): Promise<ScanStep> => {
    const p = scanStep(node.client, cursor, scanSpec, spec.batchSize);
    p.catch(() => undefined); // awaited later; a prefetch abandoned on stop must not crash
    return p;
  };
  let recheck = ctx.resumed;
  let pending = progress.done ? undefined : scan(progress.cursor);
  // The save of batch k overlaps the work of batch k+1: it only claims batch k, which is
  // done, and saves go out in order on one connection, so the checkpoint never runs ahead.
  let saving: Promise<unknown> = Promise.resolve();
  while (pending && !ctx.stop()) {
    const step = await pending;
    const throttled = await ctx.limiter.take(step.keys.length, spec.signal);
    if (ctx.stop()) break;
    // Prefetch the next SCAN so its round trip overlaps this batch's work.
    pending = step.cursor === "0" ? undefined : scan(step.cursor);
    if (step.keys.length > 0) {
      const outcome = await spec.processBatch(step.keys, { node, recheck });
      recheck = false;
      progress.counts.scanned = (progress.counts.scanned ?? 0) + step.keys.length;
      for (const [k, v] of Object.entries(outcome.counts)) {
        progress.counts[k] = (progress.counts[k] ?? 0) + v;
      }
      for (const f of outcome.findings) {
        if (progress.findings.length >= spec.findingsCap) break;
        progress.findings.push(f);
      }
    }
    progress.cursor = step.cursor;
    progress.done = step.cursor === "0";
    await saving;
    saving = ctx.checkpoint.saveNode(node.id, progress);
    ctx.tracker.emit(throttled);
  }
  await saving;
}
