import { rmSync } from "node:fs";
import { join } from "node:path";
import { TOOL_STATE_PREFIX } from "../backfill/tool.js";
import { OLD_PREFIX } from "../jobData.js";
import { RESULTS_DIR } from "../paths.js";
import type { Target } from "../target.js";
import { countsOf, num, runTool, toolResult } from "../toolRunner.js";
import type { MethodResult } from "../types.js";

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
  const counts = countsOf(run);
  const scanned = num(counts["scanned"]);
  const scan = scanned === null || scanned === seededKeys ? "" : `, scanned ${scanned} keys`;
  // Pairs per second: the old keys, also when the orphan pass scans the new ones too.
  const r = toolResult("tool", run, seededKeys, scan);
  return { ...r, divergent: run.ok ? (num(counts["confirmed"]) ?? 0) : null };
}
