import { createReadStream } from "node:fs";
import { join } from "node:path";
import { TOOL_STATE_PREFIX } from "../backfill/tool.js";
import { OLD_PREFIX } from "../jobData.js";
import { RESULTS_DIR } from "../paths.js";
import type { Target } from "../target.js";
import { runTool } from "../toolRunner.js";
import type { MethodResult } from "../types.js";

const num = (v: unknown) => (typeof v === "number" ? v : null);

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
  const counts = (run.json?.["counts"] ?? {}) as Record<string, unknown>;
  const stats = (run.json?.["stats"] ?? {}) as Record<string, unknown>;
  const ownMs = num(run.json?.["durationMs"]);
  const cpuUserMs = num(stats["cpuUserMs"]);
  // Wall time (used for the ratios) includes node startup and the tool's final 500 ms
  // wait for re-created keys; its own durationMs covers the scan alone.
  const own = ownMs
    ? `, own durationMs ${ownMs} = ${Math.round(seededKeys / (ownMs / 1000))} keys/s`
    : "";
  const cpu = cpuUserMs === null ? "" : `, cpuUserMs ${cpuUserMs}`;
  const forced = run.json?.["forcedPast"] ? `, FORCED past: ${String(run.json["forcedPast"])}` : "";
  return {
    method: archive ? "tool+archive" : "tool",
    status: run.ok ? "ok" : "error",
    keys: run.ok ? seededKeys : 0,
    copies: null,
    seconds: run.seconds,
    keysPerSec: run.ok && run.seconds > 0 ? seededKeys / run.seconds : null,
    rss: run.rss,
    clientCpuPct:
      run.cpuSeconds === null || run.seconds <= 0 ? null : (100 * run.cpuSeconds) / run.seconds,
    deleted: run.ok ? num(counts["deleted"]) : null,
    counters: { ...counts, ...(ownMs === null ? {} : { ownDurationMs: ownMs }) },
    note: run.ok ? `exit ${run.exitCode}${own}${cpu}${forced}` : `TOOL FAILED: ${run.error}`,
  };
}
