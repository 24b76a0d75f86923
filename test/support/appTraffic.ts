/**
 * The application, played exactly as its design docs describe it (seeds/002 FIX 1 and
 * FIX 3, seeds/003): separate commands, no transaction, so that a migration running beside
 * it meets the same races as in production.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { flatten, nonUtf8Json, pendingJobHash } from "./jobHashes.js";
import type { FieldValue, JobRef, NewJob } from "./jobHashes.js";
import type { RedisClient } from "./targets.js";

export { hashForDiff, readHashBuffers, sameHash, seedOldJobs } from "./jobHashes.js";
export type { FieldValue, JobRef, NewJob, SeedOptions } from "./jobHashes.js";

export type JobStatus = "pending" | "running" | "completed" | "failed";

export interface AppOptions {
  redis: RedisClient;
  /** e.g. `${prefix}ai:jobs:`; the old key is `${oldPrefix}${job_id}`. */
  oldPrefix: string;
  /** e.g. `${prefix}ai:job:`; the new key is `${newPrefix}${workspace_id}:${job_id}`. */
  newPrefix: string;
  queueKey: string;
  /** AI_JOBS_NEW_SCHEMA=on. Mutable: tests may flip it mid-run, as a rollout does. */
  flagOn: boolean;
  /**
   * Old-schema writes (default true). False: Phase 3, after the read flip, when the app
   * writes only new keys (flagOn implied), the state cleanup runs in.
   */
  oldWrites?: boolean;
}

/** The app's SimpleQueue, write paths only. */
export class AppQueue {
  flagOn: boolean;

  constructor(private readonly opts: AppOptions) {
    this.flagOn = opts.flagOn;
  }

  oldKey(jobId: string): string {
    return `${this.opts.oldPrefix}${jobId}`;
  }

  newKey(workspaceId: string, jobId: string): string {
    return `${this.opts.newPrefix}${workspaceId}:${jobId}`;
  }

  /** FIX 1 order: HSET old, HSET new (flag on), RPUSH queue. */
  async enqueue(job: NewJob): Promise<void> {
    const { redis, queueKey } = this.opts;
    const fields = flatten(pendingJobHash(job));
    if (this.opts.oldWrites === false) {
      await redis.hset(this.newKey(job.workspace_id, job.job_id), ...fields);
      await redis.rpush(queueKey, job.job_id);
      return;
    }
    await redis.hset(this.oldKey(job.job_id), ...fields);
    if (this.flagOn) await redis.hset(this.newKey(job.workspace_id, job.job_id), ...fields);
    await redis.rpush(queueKey, job.job_id);
  }

  /**
   * FIX 3: HSET old; then, flag on, EXISTS new and HSET new only if it exists. Three round
   * trips: a backfill that creates the new key between them leaves it one update behind.
   */
  async updateStatus(
    jobId: string,
    workspaceId: string,
    status: JobStatus,
    result?: FieldValue,
  ): Promise<void> {
    const { redis } = this.opts;
    const now = () => new Date().toISOString();
    const updates: FieldValue[] = ["status", status];
    if (status === "running") updates.push("started_at", now());
    if (status === "completed" || status === "failed") {
      updates.push("finished_at", now());
      if (result !== undefined) updates.push("result", result);
    }
    if (this.opts.oldWrites === false) {
      await redis.hset(this.newKey(workspaceId, jobId), ...updates);
      return;
    }
    await redis.hset(this.oldKey(jobId), ...updates);
    if (!this.flagOn) return;
    const newKey = this.newKey(workspaceId, jobId);
    if ((await redis.exists(newKey)) === 1) await redis.hset(newKey, ...updates);
  }
}

export interface TrafficOptions extends AppOptions {
  /** Existing jobs that receive status updates (enqueued jobs join them). */
  jobs: JobRef[];
  /** Workers, each moving one job at a time through pending → running → completed/failed. */
  concurrency: number;
  /** Brand-new dual-written jobs per second; default 10, 0 for none. */
  newJobsPerSecond?: number;
}

export interface TrafficStats {
  updates: number;
  enqueues: number;
  /** Failed app calls (e.g. while a server restarts); the traffic keeps going. */
  errors: number;
  lastError?: unknown;
  /** The jobs enqueued during the run. */
  enqueued: JobRef[];
}

export interface Traffic {
  /** The app it drives: flip `app.flagOn` to play a rollout step. */
  app: AppQueue;
  /** Let in-flight calls finish, then report. */
  stop(): Promise<TrafficStats>;
}

export function startTraffic(opts: TrafficOptions): Traffic {
  const app = new AppQueue(opts);
  const stats: TrafficStats = { updates: 0, enqueues: 0, errors: 0, enqueued: [] };
  const pool = [...opts.jobs];
  // One worker per job at a time, as in the app: two workers interleaving updates of the
  // same job would make old and new diverge on their own and blame the migration.
  const busy = new Set<string>();
  const stopping = new AbortController();
  const failed = (err: unknown) => {
    stats.errors++;
    stats.lastError = err;
    return sleep(20);
  };

  const pickIdle = (): JobRef | undefined => {
    for (let tries = 0; tries < 8 && pool.length > 0; tries++) {
      const job = pool[Math.floor(Math.random() * pool.length)]!;
      if (!busy.has(job.job_id)) return job;
    }
    return undefined;
  };

  const worker = async () => {
    while (!stopping.signal.aborted) {
      const job = pickIdle();
      if (job === undefined) {
        await sleep(5);
        continue;
      }
      busy.add(job.job_id);
      try {
        const final: JobStatus = Math.random() < 0.8 ? "completed" : "failed";
        for (const status of ["pending", "running", final] as const) {
          if (stopping.signal.aborted) break;
          const result = status === final ? nonUtf8Json("output", status) : undefined;
          await app.updateStatus(job.job_id, job.workspace_id, status, result);
          stats.updates++;
        }
      } catch (err) {
        await failed(err);
      } finally {
        busy.delete(job.job_id);
      }
    }
  };

  const run = randomBytes(3).toString("hex");
  const workspaces = [...new Set(opts.jobs.map((j) => j.workspace_id))];
  if (workspaces.length === 0) workspaces.push("ws-live");
  const enqueuer = async (perSecond: number) => {
    for (let n = 0; ; n++) {
      try {
        await sleep(1000 / perSecond, undefined, { signal: stopping.signal });
      } catch {
        return; // aborted: stop() was called
      }
      const job: NewJob = {
        job_id: `live-${run}-${n}`,
        workspace_id: workspaces[n % workspaces.length]!,
        action_provider: "slack",
        action_name: "chat.post",
        params: n % 2 === 0 ? nonUtf8Json("text", `n${n}`) : `{"text":"hello ${n}"}`,
        actor_id: `user-${n % 5}`,
      };
      try {
        await app.enqueue(job);
        stats.enqueues++;
        stats.enqueued.push({ job_id: job.job_id, workspace_id: job.workspace_id });
        pool.push(job);
      } catch (err) {
        await failed(err);
      }
    }
  };

  const rate = opts.newJobsPerSecond ?? 10;
  const loops = Array.from({ length: opts.concurrency }, worker);
  if (rate > 0) loops.push(enqueuer(rate));
  return {
    app,
    async stop() {
      stopping.abort();
      await Promise.all(loops);
      return stats;
    },
  };
}
