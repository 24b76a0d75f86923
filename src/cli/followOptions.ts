import { UsageError } from "../errors.js";
import { parseDuration } from "./duration.js";
import type { VerifyCliOptions } from "./options/verify.js";

export interface FollowCliSettings {
  settleMs: number;
  forMs: number | undefined;
  maxPending: number;
  enableNotifications: boolean;
}

/**
 * The --follow settings, or undefined without --follow. A usage error (exit 2, nothing
 * changed) for a follow flag without --follow, and for --follow with an option it cannot
 * honour: follow has no checkpoint, no SCAN walk to rate-limit or pause, no replica reads,
 * and no total to turn a --sample count into a fraction.
 */
export function followSettings(
  opts: VerifyCliOptions,
  v: VerifyCliOptions,
): FollowCliSettings | undefined {
  if (!v.follow) {
    const stray = (
      [
        ["--settle", v.settle],
        ["--for", v.for],
        ["--enable-notifications", v.enableNotifications],
        ["--max-pending", v.maxPending],
      ] as const
    ).find(([, value]) => value !== undefined);
    if (stray) throw new UsageError(`${stray[0]} only applies to --follow`);
    return undefined;
  }
  const refused = (
    [
      ["--restart", opts.restart],
      ["--read-from replicas", v.readFrom === "replicas"],
      ["--rate", opts.rate > 0],
      ["--target-batch-ms", opts.targetBatchMs !== undefined],
      ["--max-latency", opts.maxLatency !== undefined],
      ["--max-memory", opts.maxMemory !== undefined],
      ["--max-replica-lag", opts.maxReplicaLag !== undefined],
      ["--max-ops", opts.maxOps !== undefined],
      ["--sample <count>", v.sample !== undefined && v.sample > 1],
    ] as const
  ).find(([, set]) => set);
  if (refused)
    throw new UsageError(
      `--follow cannot honour ${refused[0]} (it follows writes as they happen: no checkpoint, no SCAN walk to pace, no total to sample a count of; use --sample with a fraction)`,
    );
  const settleMs = parseDuration("--settle", v.settle ?? "2s");
  if (settleMs < 100 || settleMs > 3_600_000)
    throw new UsageError(`--settle must be from 100ms to 1h (got "${v.settle}")`);
  const forMs = v.for === undefined ? undefined : parseDuration("--for", v.for);
  if (forMs === 0) throw new UsageError(`--for must be more than 0 (got "${v.for}")`);
  return {
    settleMs,
    forMs,
    maxPending: v.maxPending ?? 100_000,
    enableNotifications: v.enableNotifications ?? false,
  };
}
