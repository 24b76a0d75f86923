import { OLD_PREFIX } from "../jobData.js";
import type { Target } from "../target.js";
import { runTool } from "../toolRunner.js";
import type { MethodResult } from "../types.js";

export const TOOL_STATE_PREFIX = "bench:jm:";

/** Method 4: the real CLI as a child process, timed from spawn to exit. */
export async function toolBackfill(
  target: Target,
  newPrefix: string,
  batchSize: number,
  seededKeys: number,
): Promise<MethodResult> {
  const run = await runTool([
    "backfill",
    ...["--redis-url", target.url, "--old-prefix", OLD_PREFIX, "--new-prefix", newPrefix],
    ...["--state-prefix", TOOL_STATE_PREFIX, "--batch-size", String(batchSize), "--json"],
  ]);
  // The contract says counters/stats.durationMs; early CLI builds print counts/durationMs.
  const counters = (run.json?.["counters"] ?? run.json?.["counts"]) as
    Record<string, unknown> | undefined;
  const scanned = typeof counters?.["scanned"] === "number" ? counters["scanned"] : seededKeys;
  const stats = (run.json?.["stats"] ?? {}) as Record<string, unknown>;
  const ms = stats["durationMs"] ?? run.json?.["durationMs"];
  const ownMs = typeof ms === "number" ? ms : null;
  // Wall time (used for the ratios) includes node startup; the tool's own clock does not.
  const own = ownMs
    ? `, own durationMs ${ownMs} = ${Math.round(scanned / (ownMs / 1000))} keys/s`
    : "";
  return {
    method: "tool",
    status: run.ok ? "ok" : "error",
    keys: run.ok ? scanned : 0,
    copies: null,
    seconds: run.seconds,
    keysPerSec: run.ok && run.seconds > 0 ? scanned / run.seconds : null,
    rss: run.rss,
    clientCpuPct:
      run.cpuSeconds === null || run.seconds <= 0 ? null : (100 * run.cpuSeconds) / run.seconds,
    ...(counters ? { counters } : {}),
    ...(run.ok ? { note: `exit ${run.exitCode}${own}` } : { note: `TOOL FAILED: ${run.error}` }),
  };
}
