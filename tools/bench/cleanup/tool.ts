import { createReadStream } from "node:fs";
import { join } from "node:path";
import { TOOL_STATE_PREFIX } from "../backfill/tool.js";
import { OLD_PREFIX } from "../jobData.js";
import { RESULTS_DIR } from "../paths.js";
import type { Target } from "../target.js";
import { countsOf, num, runTool, toolResult } from "../toolRunner.js";
import type { MethodResult } from "../types.js";

/** Where the archive of one run goes (deleted once counted). */
export const archivePath = (kind: string) =>
  join(RESULTS_DIR, `archive-${kind}-${process.pid}.jsonl`);

/** One JSON line per archived hash. */
export async function countLines(path: string): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  }
  return n;
}

/**
 * What the guard of `cleanup --execute` asks for, not timed: a clean verify of the whole
 * keyspace recorded under the state prefix. Returns why it could not be had, or null.
 */
export async function recordCleanVerify(target: Target, newPrefix: string): Promise<string | null> {
  const run = await runTool([
    "verify",
    ...["--redis-url", target.url, "--old-prefix", OLD_PREFIX, "--new-prefix", newPrefix],
    ...["--state-prefix", TOOL_STATE_PREFIX, "--no-orphans", "--recheck-delay", "10", "--json"],
  ]);
  if (!run.ok) return `the guard's verify failed: ${run.error}`;
  if (run.json?.["clean"] !== true)
    return `the guard's verify was not clean: ${JSON.stringify(run.json?.["counts"])}`;
  return null;
}

/**
 * The real CLI as a child process, timed from spawn to exit, with the flag on as the
 * guard requires (set explicitly: the developer's environment may say otherwise).
 * `archive`: the --archive file, which makes it a different job (every hash written out).
 */
export async function toolCleanup(
  target: Target,
  newPrefix: string,
  batchSize: number,
  seededKeys: number,
  archive?: string,
): Promise<MethodResult> {
  const run = await runTool(
    [
      "cleanup",
      "--execute",
      ...["--redis-url", target.url, "--old-prefix", OLD_PREFIX, "--new-prefix", newPrefix],
      ...["--state-prefix", TOOL_STATE_PREFIX, "--batch-size", String(batchSize), "--json"],
      ...(archive ? ["--archive", archive] : []),
    ],
    { AI_JOBS_NEW_SCHEMA: "on" },
  );
  // Wall time (used for the ratios) also includes the tool's final 1 s wait for re-created
  // keys; its own durationMs covers the scan alone.
  const forced = run.json?.["forcedPast"] ? `, FORCED past: ${String(run.json["forcedPast"])}` : "";
  const r = toolResult(archive ? "tool+archive" : "tool", run, seededKeys, forced);
  return { ...r, deleted: run.ok ? num(countsOf(run)["deleted"]) : null };
}
