import { rmSync } from "node:fs";
import { TOOL_STATE_PREFIX } from "../backfill/tool.js";
import { readCommandStats, resetCommandStats, topCommands } from "../commandStats.js";
import { OLD_PREFIX } from "../jobData.js";
import { countPrefix, dropPrefix } from "../keyspace.js";
import { bigJobsLeft, reseed, type SeedResult } from "../seed.js";
import type { Target } from "../target.js";
import type { MethodCtx, MethodResult, RowId } from "../types.js";
import { withUsage } from "../usage.js";
import { freshPairs } from "./pairs.js";
import { pipelinedCleanup } from "./pipelined.js";
import { archivePath, countLines, recordCleanVerify, toolCleanup } from "./tool.js";

export interface CleanupBenchOptions {
  batchSize: number;
  oneKeySeconds: number;
  seeded: SeedResult;
}

/** The production layout, as verify uses it. */
const NEW_PREFIX = "ai:job:";
// No one-key or server-side baseline: the target is stated against the pipelined client,
// which with --archive's job to do (every hash written out first) is "pipelined+archive".
const METHODS: RowId[] = ["pipelined", "tool", "pipelined+archive", "tool+archive"];

async function measure(
  method: RowId,
  ctx: MethodCtx,
  seeded: SeedResult,
  archive: string | undefined,
): Promise<MethodResult> {
  const base = { method, copies: null, seconds: 0, keys: 0, keysPerSec: null };
  try {
    if (method === "tool" || method === "tool+archive")
      return await toolCleanup(ctx.target, ctx.newPrefix, ctx.batchSize, seeded.keys, archive);
    const t = await pipelinedCleanup(ctx, archive);
    return {
      ...base,
      status: "ok",
      keys: t.keys,
      seconds: t.seconds,
      keysPerSec: t.seconds > 0 ? t.keys / t.seconds : null,
      deleted: t.deleted,
      counters: { kept: t.kept, unmigratable: t.unmigratable },
    };
  } catch (err) {
    const note = `FAILED: ${err instanceof Error ? err.message : String(err)}`;
    return { ...base, status: "error", note };
  }
}

/**
 * Every valid job's old key gone, the malformed 1% kept, and each count as expected. The
 * tool keeps a big job (--latency) it cannot read within its command budget and counts it
 * as oversized: those kept must be exactly as many as it says.
 */
function check(r: MethodResult, seeded: SeedResult, archived: number | null, big: number): void {
  if (r.status !== "ok") return;
  const expected = seeded.keys - seeded.malformed - big;
  const left = seeded.malformed + big;
  const problems: string[] = [];
  const oversized = Number(r.counters?.["oversized"] ?? 0);
  if (big !== oversized) problems.push(`${big} big jobs left, ${oversized} said oversized`);
  if (r.deleted !== expected) problems.push(`deleted ${r.deleted}, expected ${expected}`);
  if (r.oldLeft !== left)
    problems.push(`${r.oldLeft} old keys left, expected ${left} (malformed and oversized)`);
  if (archived !== null && archived !== expected)
    problems.push(`${archived} archived, expected ${expected}`);
  if (problems.length)
    r.note = `${r.note ? `${r.note}; ` : ""}WRONG RESULT: ${problems.join(", ")}`;
}

function line(r: MethodResult): string {
  const speed =
    r.keysPerSec === null
      ? r.status.toUpperCase()
      : `${Math.round(r.keysPerSec).toLocaleString("en-US")} keys/s`;
  const detail = ` (${r.keys} keys, ${r.seconds.toFixed(2)} s, deleted ${r.deleted ?? "-"})`;
  return `${speed}${detail}${r.note ? ` — ${r.note}` : ""}`;
}

/**
 * cleanup deletes the old keys, so each method gets the same pairs made afresh, and the
 * tool the clean verify its guard requires; neither is timed. INFO commandstats is reset
 * before each method, to tell where redis-server's share of the time goes.
 */
export async function benchCleanup(
  target: Target,
  opts: CleanupBenchOptions,
): Promise<MethodResult[]> {
  const ctx: MethodCtx = {
    target,
    batchSize: opts.batchSize,
    newPrefix: NEW_PREFIX,
    oneKeySeconds: opts.oneKeySeconds,
  };
  const results: MethodResult[] = [];
  for (const [i, method] of METHODS.entries()) {
    // The operations before leave the seeded old keys whole; later methods re-seed them.
    await freshPairs(target, opts.seeded, NEW_PREFIX, i > 0);
    const isTool = method === "tool" || method === "tool+archive";
    const refusal = isTool ? await recordCleanVerify(target, NEW_PREFIX) : null;
    const archive = method.endsWith("+archive") ? archivePath(target.kind) : undefined;
    process.stdout.write(`  ${method.padEnd(12)} ... `);
    await resetCommandStats(target);
    const r: MethodResult = refusal
      ? { method, status: "error", copies: null, seconds: 0, keys: 0, keysPerSec: null }
      : await withUsage(target, () => measure(method, ctx, opts.seeded, archive));
    if (refusal) r.note = refusal;
    r.commandStats = await readCommandStats(target);
    r.oldLeft = await countPrefix(target, OLD_PREFIX);
    let archived: number | null = null;
    if (archive) {
      archived = r.status === "ok" ? await countLines(archive) : null;
      rmSync(archive, { force: true });
      r.counters = { ...r.counters, archived };
    }
    check(r, opts.seeded, archived, await bigJobsLeft(target, opts.seeded));
    console.log(line(r));
    console.log(`               redis time by command: ${topCommands(r.commandStats)}`);
    results.push(r);
  }
  // Leave what the operation found: the seeded old keys alone.
  await dropPrefix(target, NEW_PREFIX);
  await dropPrefix(target, TOOL_STATE_PREFIX);
  await reseed(target, opts.seeded);
  return results;
}
