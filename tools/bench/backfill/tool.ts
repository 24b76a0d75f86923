import { OLD_PREFIX } from "../jobData.js";
import type { Target } from "../target.js";
import { countsOf, num, runTool, toolResult } from "../toolRunner.js";
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
  const scanned = num(countsOf(run)["scanned"]) ?? seededKeys;
  return toolResult("tool", run, scanned);
}
