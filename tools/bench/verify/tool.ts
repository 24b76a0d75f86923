import { rmSync } from "node:fs";
import { join } from "node:path";
import { TOOL_STATE_PREFIX } from "../backfill/tool.js";
import { OLD_PREFIX } from "../jobData.js";
import { RESULTS_DIR } from "../paths.js";
import type { Target } from "../target.js";
import { runTool } from "../toolRunner.js";
import type { MethodResult } from "../types.js";

const num = (v: unknown) => (typeof v === "number" ? v : null);

/**
 * Method 4: the real CLI as a child process, timed from spawn to exit. The --report file
 * stays on (the RSS target is stated with it) and holds the malformed 1% as findings.
 * `orphans` adds the second pass over the new keys, off in the compared figure because
 * the baselines do not do it.
 */
export async function toolVerify(
  target: Target,
  newPrefix: string,
  batchSize: number,
  seededKeys: number,
  orphans: boolean,
  extraArgs: string[] = [],
): Promise<MethodResult> {
  const report = join(RESULTS_DIR, `verify-report-${process.pid}.jsonl`);
  const run = await runTool([
    "verify",
    ...["--redis-url", target.url, "--old-prefix", OLD_PREFIX, "--new-prefix", newPrefix],
    ...["--state-prefix", TOOL_STATE_PREFIX, "--batch-size", String(batchSize), "--json"],
    ...(orphans ? [] : ["--no-orphans"]),
    ...["--report", report],
    ...extraArgs,
  ]);
  rmSync(report, { force: true });
  const counts = (run.json?.["counts"] ?? {}) as Record<string, unknown>;
  const stats = (run.json?.["stats"] ?? {}) as Record<string, unknown>;
  const ownMs = num(run.json?.["durationMs"]);
  const cpuUserMs = num(stats["cpuUserMs"]);
  // Wall time (used for the ratios) includes node startup; the tool's own clock does not.
  const own = ownMs
    ? `, own durationMs ${ownMs} = ${Math.round(seededKeys / (ownMs / 1000))} keys/s`
    : "";
  const cpu = cpuUserMs === null ? "" : `, cpuUserMs ${cpuUserMs}`;
  const scanned = num(counts["scanned"]);
  const scan = scanned === null || scanned === seededKeys ? "" : `, scanned ${scanned} keys`;
  return {
    method: "tool",
    status: run.ok ? "ok" : "error",
    // Pairs per second: the old keys, also when the orphan pass scans the new ones too.
    keys: run.ok ? seededKeys : 0,
    copies: null,
    seconds: run.seconds,
    keysPerSec: run.ok && run.seconds > 0 ? seededKeys / run.seconds : null,
    rss: run.rss,
    clientCpuPct:
      run.cpuSeconds === null || run.seconds <= 0 ? null : (100 * run.cpuSeconds) / run.seconds,
    divergent: run.ok ? (num(counts["confirmed"]) ?? 0) : null,
    counters: counts,
    note: run.ok ? `exit ${run.exitCode}${own}${cpu}${scan}` : `TOOL FAILED: ${run.error}`,
  };
}
