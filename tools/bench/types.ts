import type { Target } from "./target.js";

export type MethodId = "one-key" | "pipelined" | "server-side" | "tool";
/**
 * A report row: a method, the tool run with --archive (cleanup: a different job), or
 * verify's server-CPU floor (two HGETALLs a pair).
 */
export type RowId = MethodId | "tool+archive" | "pipelined+archive" | "two-hgetall";

export interface RssInfo {
  /** stats.peakRssBytes as reported by the tool itself. */
  reportedMb: number | null;
  /** Max VmRSS sampled from /proc/<pid>/status every 50 ms. */
  sampledMb: number | null;
  /** Last VmHWM (kernel-tracked peak) read before the process exited. */
  hwmMb: number | null;
}

export interface MethodResult {
  method: RowId;
  status: "ok" | "n/a" | "error";
  /** Old keys processed in the timed part. */
  keys: number;
  /** New keys found under the method's prefix afterwards (counted, not self-reported). */
  copies: number | null;
  seconds: number;
  keysPerSec: number | null;
  note?: string;
  /** Machine-wide CPU busy % while the method ran: noise indicator (see hostCpu.ts). */
  hostCpuPct?: number | null;
  /** CPU of the client doing the work (the bench process, or the tool's child), % of one core. */
  clientCpuPct?: number | null;
  /** CPU of redis-server (summed over masters), % of one core: with clientCpuPct, where time goes. */
  redisCpuPct?: number | null;
  /** verify: pairs found different (0 expected: every pair was copied just before). */
  divergent?: number | null;
  /** cleanup: keys the method says it deleted (its own count). */
  deleted?: number | null;
  /** cleanup: old keys left afterwards (counted, not self-reported; the malformed 1% stay). */
  oldLeft?: number | null;
  /** Per-command calls and time inside redis-server (INFO commandstats) while it ran. */
  commandStats?: Record<string, { calls: number; usec: number }>;
  /** Other runs of the same method worth reporting beside it (e.g. the tool with --orphans). */
  variants?: Record<string, MethodResult>;
  rss?: RssInfo;
  counters?: Record<string, unknown>;
  /** --latency: what an app felt while the method ran (latencyProbe.ts). */
  latency?: LatencyResult;
}

/** The app-like probe's call latencies (ms) over one window; null when it made no call. */
export interface ProbeStats {
  calls: number;
  errors: number;
  /** Calls not sent: the probe fell behind its schedule (no CPU), or 1,000 were waiting. */
  skipped: number;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}

/** SLOWLOG entries of one window, the probe's and the bench's admin commands left out. */
export interface SlowlogStats {
  over1ms: number;
  over2ms: number;
  over5ms: number;
  longest: { ms: number; command: string } | null;
}

export interface LatencyResult {
  seconds: number;
  /** Machine-wide CPU busy % over the window: an idle window far above 0 was disturbed. */
  hostCpuPct: number | null;
  probe: ProbeStats;
  slowlog: SlowlogStats;
}

export interface MethodCtx {
  target: Target;
  batchSize: number;
  newPrefix: string;
  oneKeySeconds: number;
}

export const MB = 1024 * 1024;

export function pipelineErrors(res: [Error | null, unknown][] | null): void {
  if (res === null) throw new Error("pipeline aborted");
  const bad = res.find(([err]) => err !== null);
  if (bad) throw bad[0]!;
}
