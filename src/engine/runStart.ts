import { randomUUID } from "node:crypto";
import { UsageError } from "../errors.js";
import { Checkpoint, fingerprintOf, type CheckpointState } from "./checkpoint.js";
import { describeOwner, RunLock } from "./runLock.js";
import type { RunSpec } from "./runSpec.js";
import { ShardProgress } from "./shardProgress.js";
import { stateKeys, type StateKeys } from "./stateKeys.js";
import { shardsOf, Topology, type Shard } from "./topology.js";

export type RunLog = (level: "info" | "warn", message: string) => void;

/** What a run holds once it has started: its id, lock, checkpoint and topology. */
export interface StartedRun {
  runId: string;
  resumed: boolean;
  keys: StateKeys;
  checkpoint: Checkpoint;
  lock: RunLock;
  state: CheckpointState;
  /** host:pid of this process, as the checkpoint names its owner. */
  owner: string;
  progress: ShardProgress;
  topology: Topology;
  /** The masters when the run started (each pass reads them again). */
  shards: Shard[];
  log: RunLog;
  /** Logs a topology change and keeps it for the summary (`notes`). */
  topologyLog: RunLog;
  notes: string[];
}

/**
 * Step 1 of a run: refuse a checkpoint made with other options (before the lock, so bad
 * input writes nothing), wait for the deployment to settle, take the lock, clear stale
 * ctl requests, and create or resume the checkpoint.
 */
export async function startRun(spec: RunSpec): Promise<StartedRun> {
  const client = spec.target.client;
  const keys = stateKeys(spec.statePrefix, spec.scope);
  const checkpoint = new Checkpoint(client, keys.checkpoint);
  const fingerprint = fingerprintOf(spec.definingOptions);
  const options = JSON.stringify(spec.definingOptions);
  const log: RunLog = (level, message) => spec.onEvent?.({ type: "log", level, message });

  const saved = await checkpoint.load();
  const resumed = saved !== undefined && saved.status !== "completed" && !spec.restart;
  if (resumed && saved.fingerprint !== fingerprint) {
    throw new UsageError(
      `the saved ${spec.name} checkpoint (run ${saved.runId}, started ${saved.startedAt}) was made with other options ` +
        `(saved ${saved.options}, now ${options}): run again with the same options, or add --restart to start over`,
    );
  }
  const notes: string[] = [];
  const topologyLog: RunLog = (level, message) => {
    notes.push(message);
    log(level, message);
  };
  const topology = new Topology(spec.target, spec.settleMs ?? 120_000, topologyLog);
  const shards = shardsOf(await topology.settled(`connecting for ${spec.name}`));

  const runId = resumed ? saved.runId : randomUUID().slice(0, 8);
  const lock = new RunLock(client, keys.lock, RunLock.ownerFor(runId), spec.lockTtlMs);
  await lock.acquire(spec.name);
  // A ctl request addresses the run that was going when it was sent, not a new one.
  await client.del(keys.control);
  if (lock.tookOverFrom)
    log("warn", `took over the lock of a dead run: ${describeOwner(lock.tookOverFrom)}`);

  const owner = `${lock.owner.host}:${lock.owner.pid}`;
  const now = new Date().toISOString();
  const state: CheckpointState = resumed
    ? { ...saved, status: "running" }
    : {
        runId,
        status: "running",
        fingerprint,
        options,
        version: spec.version,
        startedAt: now,
        updatedAt: now,
        owner,
        nodes: {},
      };
  const progress = new ShardProgress(state.nodes, checkpoint, topologyLog);
  return {
    ...{ runId, resumed, keys, checkpoint, lock, state, owner, progress, topology, shards },
    ...{ log, topologyLog, notes },
  };
}

/** Step 2: record the run as running (its checkpoint), once the lock is held. */
export async function markRunning(run: StartedRun): Promise<void> {
  if (run.resumed) await run.checkpoint.setStatus("running", { owner: run.owner });
  else await run.checkpoint.create(run.state);
}
