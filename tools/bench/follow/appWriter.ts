/**
 * The application's dual-write at a steady rate, as seeds/ describe it (FIX 1 enqueue:
 * HSET old, HSET new; FIX 3 update_status: HSET old, EXISTS new, HSET new if it exists),
 * with a dual-write bug injected on purpose: 1 in `brokenEvery` updates skips the new key.
 * A broken job gets no further update, so its pair stays divergent and can be counted.
 * Each job runs enqueue → running → completed: 8 calls, 2 updates.
 */
import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";

export interface WriterOptions {
  redis: Redis | Cluster;
  oldPrefix: string;
  newPrefix: string;
  /** Redis calls per second, all workers together. */
  callsPerSecond: number;
  /** 1 in this many updates skips the new key (0: a correct dual-write). */
  brokenEvery: number;
  /** Workers, each one job at a time (default 32). */
  concurrency?: number;
  workspaces?: number;
}

export interface WriterStats {
  calls: number;
  /** HSETs sent: each makes exactly one keyspace event. */
  hsets: number;
  jobs: number;
  updates: number;
  errors: number;
  /** Old keys of the broken pairs, with when their old key was written (ms). */
  broken: Map<string, number>;
}

export interface Writer {
  stats: WriterStats;
  stop(): Promise<WriterStats>;
}

export function startWriter(o: WriterOptions): Writer {
  const stats: WriterStats = {
    calls: 0,
    hsets: 0,
    jobs: 0,
    updates: 0,
    errors: 0,
    broken: new Map(),
  };
  const run = randomBytes(3).toString("hex");
  let stopped = false;
  // Permits by elapsed time, handed out every 5 ms: setTimeout cannot pace single calls at
  // 0.5 ms, and a timer that fires late (a busy machine) must not lower the rate.
  const burst = o.callsPerSecond / 10;
  let permits = 0;
  let lastMs = Date.now();
  const waiters: (() => void)[] = [];
  const timer = setInterval(() => {
    const now = Date.now();
    permits = Math.min(permits + ((now - lastMs) * o.callsPerSecond) / 1000, burst);
    lastMs = now;
    while (permits >= 1 && waiters.length > 0) {
      permits--;
      waiters.shift()!();
    }
  }, 5);
  const permit = (): Promise<void> => {
    // Once stopping, calls go at once: a job's update in flight is finished, never cut.
    if (stopped || (permits >= 1 && waiters.length === 0)) {
      permits--;
      return Promise.resolve();
    }
    return new Promise((r) => waiters.push(r));
  };
  const call = async <T>(f: () => Promise<T>, hset = true): Promise<T> => {
    await permit();
    stats.calls++;
    if (hset) stats.hsets++;
    return f();
  };
  let seq = 0;
  const ws = o.workspaces ?? 8;
  const r = o.redis;

  const lifecycle = async () => {
    const n = seq++;
    const id = `fw-${run}-${n}`;
    const wsId = `ws-${n % ws}`;
    const oldKey = `${o.oldPrefix}${id}`;
    const newKey = `${o.newPrefix}${wsId}:${id}`;
    const job = [
      "job_id",
      id,
      "status",
      "pending",
      "action_provider",
      "slack",
      "action_name",
      "chat.post",
      "params",
      `{"text":"hello ${n}","token":"sk-${n}"}`,
      "workspace_id",
      wsId,
      "actor_id",
      `user-${n % 5}`,
      "result",
      "",
      "enqueued_at",
      new Date().toISOString(),
    ];
    await call(() => r.hset(oldKey, ...job));
    await call(() => r.hset(newKey, ...job));
    stats.jobs++;
    for (const status of ["running", "completed"]) {
      if (stopped) return;
      const at = new Date().toISOString();
      const fields =
        status === "running"
          ? ["status", status, "started_at", at]
          : ["status", status, "finished_at", at, "result", `{"ok":${n}}`];
      stats.updates++;
      const broken = o.brokenEvery > 0 && stats.updates % o.brokenEvery === 0;
      await call(() => r.hset(oldKey, ...fields));
      if (broken) {
        stats.broken.set(oldKey, Date.now());
        return; // the bug: the new key is skipped, and the job is not touched again
      }
      if ((await call(() => r.exists(newKey), false)) === 1)
        await call(() => r.hset(newKey, ...fields));
    }
  };
  const worker = async () => {
    while (!stopped) {
      try {
        await lifecycle();
      } catch {
        stats.errors++;
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  };
  const loops = Array.from({ length: o.concurrency ?? 32 }, worker);
  return {
    stats,
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const w of waiters.splice(0)) w();
      await Promise.all(loops);
      return stats;
    },
  };
}
