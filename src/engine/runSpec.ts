import type { MasterNode, RedisTarget } from "../redis/target.js";
import type { Finding } from "./checkpoint.js";
import type { RunEventListener } from "./events.js";
import type { LoadLimits } from "./loadGuard.js";

export interface BatchContext {
  node: MasterNode;
  /** First batch after a resume: it may have been half done when the last run died. */
  recheck: boolean;
  /**
   * Say that what is left of this batch's work is mostly waiting (say a delay before a
   * re-read): the walker then starts the next batch instead of waiting for this one.
   */
  parked: () => void;
}

export interface BatchOutcome {
  counts: Record<string, number>;
  findings: Finding[];
  /**
   * Keys of the batch left for a rescan by slot (their slot was on the move): not counted
   * as scanned now, they are when the rescan handles them.
   */
  deferred?: number | undefined;
}

export type ProcessBatch = (keys: Buffer[], ctx: BatchContext) => Promise<BatchOutcome>;

/** One walk over the keys under a prefix; a run is one or more passes, in order. */
export interface PassSpec {
  /** Names the pass in the checkpoint ("main", "orphans:ws-1"). */
  name: string;
  /** Keys to walk: every key starting with this prefix (optionally of one type). */
  keyPrefix: string;
  keyType?: string | undefined;
  processBatch: ProcessBatch;
}

export interface RunSpec {
  target: RedisTarget;
  /** Subcommand name, for messages and the lock owner ("backfill"). */
  name: string;
  /** Names the state keys; one run per scope at a time ("backfill", "verify:ws-1"). */
  scope: string;
  statePrefix: string;
  /** Options that define what the run does; a checkpoint made with others is refused. */
  definingOptions: Record<string, unknown>;
  version: string;
  passes: PassSpec[];
  batchSize: number;
  rate: number;
  lockTtlMs: number;
  restart: boolean;
  /** How many findings to keep per node as a sample (counts are always complete). */
  findingsCap: number;
  signal?: AbortSignal | undefined;
  onEvent?: RunEventListener | undefined;
  /** Adapt the batch size so a batch takes about this long (ms). */
  targetBatchMs?: number | undefined;
  /** Server load limits that pause the run while exceeded. */
  loadLimits?: LoadLimits | undefined;
  /** A run paused longer than this stops with exit 130 (default: 1 hour). */
  maxPauseMs?: number | undefined;
  /**
   * How long to wait for the deployment to settle after a failover, a restart or a lost
   * connection (exit 3 after), and for moved slots to stop moving (default: 2 minutes).
   */
  settleMs?: number | undefined;
  /** What to store as the scope's last completed result (default: the RunResult). */
  lastResult?: ((result: RunResult) => Record<string, unknown>) | undefined;
  /** Work to do once the lock is held, before the first batch (e.g. settle a crash's leftovers). */
  prepare?: ((run: { runId: string; resumed: boolean }) => Promise<void>) | undefined;
  /**
   * Work to do after the last batch, still under the lock, before the run is recorded as
   * completed (`completed` true: it may still throw to stop the run), and also when the run
   * stops itself (a signal, a guard: `completed` false, errors ignored), not when Redis
   * failed.
   */
  finish?: ((completed: boolean) => Promise<void>) | undefined;
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
  /** What the topology did during the run and what was rescanned because of it. */
  topologyChanges?: string[] | undefined;
}
