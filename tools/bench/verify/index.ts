import { pipelinedBackfill } from "../backfill/pipelined.js";
import { serverSideBackfill } from "../backfill/serverSide.js";
import { TOOL_STATE_PREFIX } from "../backfill/tool.js";
import { countPrefix, dropPrefix } from "../keyspace.js";
import type { SeedResult } from "../seed.js";
import type { Target } from "../target.js";
import type { MethodCtx, MethodId, MethodResult } from "../types.js";
import { withUsage } from "../usage.js";
import type { VerifyTally } from "./compare.js";
import { oneKeyVerify } from "./oneKey.js";
import { pipelinedVerify } from "./pipelined.js";
import { serverSideVerify } from "./serverSide.js";
import { toolVerify } from "./tool.js";
import { twoHgetallVerify } from "./twoHgetall.js";

export interface VerifyBenchOptions {
  batchSize: number;
  oneKeySeconds: number;
  seeded: SeedResult;
}

/** The production layout; neither prefix's SCAN pattern matches the other's keys. */
const NEW_PREFIX = "ai:job:";
const METHODS: MethodId[] = ["one-key", "pipelined", "server-side", "tool"];

const rate = (keys: number, seconds: number) => (seconds > 0 ? keys / seconds : null);

/**
 * Every old key with a workspace_id gets its new key, once, before any method runs: all
 * of them then read the very same pairs. Not the tool's backfill: its speed is measured
 * elsewhere and a plain copy is faster. COPY keeps the TTL exactly; on a cluster (cross-slot)
 * the pipelined copy re-applies the remaining TTL, a few ms off, well within tolerance.
 */
async function makePairs(target: Target, opts: VerifyBenchOptions): Promise<void> {
  const t0 = performance.now();
  await dropPrefix(target, NEW_PREFIX);
  const ctx = { target, batchSize: 1000, newPrefix: NEW_PREFIX, oneKeySeconds: 0 };
  await (target.kind === "single" ? serverSideBackfill(ctx) : pipelinedBackfill(ctx));
  const expected = opts.seeded.keys - opts.seeded.malformed;
  const pairs = await countPrefix(target, NEW_PREFIX);
  if (pairs !== expected) throw new Error(`making pairs: expected ${expected}, found ${pairs}`);
  const s = ((performance.now() - t0) / 1000).toFixed(2);
  console.log(`  pairs        ... ${pairs} new keys under ${NEW_PREFIX} in ${s} s`);
}

function fromTally(base: MethodResult, t: VerifyTally, note?: string): MethodResult {
  return {
    ...base,
    status: "ok",
    keys: t.keys,
    seconds: t.seconds,
    keysPerSec: rate(t.keys, t.seconds),
    divergent: t.divergent,
    counters: { unmigratable: t.unmigratable },
    ...(note ? { note } : {}),
  };
}

async function measure(method: MethodId, ctx: MethodCtx, seeded: SeedResult) {
  const { target } = ctx;
  const base: MethodResult = {
    method,
    status: "ok",
    copies: null,
    seconds: 0,
    keys: 0,
    keysPerSec: null,
  };
  if (method === "server-side" && target.kind === "cluster") {
    return {
      ...base,
      status: "n/a" as const,
      note: "N/A on cluster (Lua reads keys of other slots)",
    };
  }
  try {
    switch (method) {
      case "one-key": {
        const r = await oneKeyVerify(ctx);
        const part = r.capped
          ? `capped at ${ctx.oneKeySeconds} s: ${r.keys} of ${seeded.keys} keys, rate from that part`
          : "ran to completion";
        return fromTally(base, r, `${part}; PING round trip ${r.rttUs.toFixed(0)} µs`);
      }
      case "pipelined":
        return fromTally(base, await pipelinedVerify(ctx));
      case "server-side":
        return fromTally(base, await serverSideVerify(ctx));
      case "tool":
        return await toolVerify(target, ctx.newPrefix, ctx.batchSize, seeded.keys, false);
    }
  } catch (err) {
    const note = `FAILED: ${err instanceof Error ? err.message : String(err)}`;
    return { ...base, status: "error" as const, note };
  }
}

/** A complete run must find every pair equal and exactly the seeded malformed keys. */
function check(r: MethodResult, seeded: SeedResult, complete: boolean): void {
  if (r.status !== "ok") return;
  const problems: string[] = [];
  if (r.divergent !== 0) problems.push(`${r.divergent} divergent pairs, expected 0`);
  const unmigratable = r.counters?.["unmigratable"] ?? 0;
  if (complete && unmigratable !== seeded.malformed)
    problems.push(`${String(unmigratable)} unmigratable, expected ${seeded.malformed}`);
  const equal = r.counters?.["equal"];
  if (r.method === "tool" && equal !== seeded.keys - seeded.malformed)
    problems.push(`${String(equal)} equal pairs, expected ${seeded.keys - seeded.malformed}`);
  if (problems.length)
    r.note = `${r.note ? `${r.note}; ` : ""}WRONG RESULT: ${problems.join(", ")}`;
}

function line(r: MethodResult): string {
  const speed =
    r.keysPerSec === null
      ? r.status.toUpperCase()
      : `${Math.round(r.keysPerSec).toLocaleString("en-US")} keys/s`;
  const detail = r.status === "n/a" ? "" : ` (${r.keys} keys, ${r.seconds.toFixed(2)} s)`;
  return `${speed}${detail}${r.note ? ` — ${r.note}` : ""}`;
}

/**
 * Verify is read-only: every method reads the same pairs, made once up front, and nothing
 * is deleted between methods except the tool's own state (a checkpoint would make its next
 * run resume instead of starting over).
 */
export async function benchVerify(
  target: Target,
  opts: VerifyBenchOptions,
): Promise<MethodResult[]> {
  await makePairs(target, opts);
  const ctx: MethodCtx = {
    target,
    batchSize: opts.batchSize,
    newPrefix: NEW_PREFIX,
    oneKeySeconds: opts.oneKeySeconds,
  };
  const results: MethodResult[] = [];
  for (const method of METHODS) {
    process.stdout.write(`  ${method.padEnd(12)} ... `);
    const r = await withUsage(target, () => measure(method, ctx, opts.seeded));
    if (method === "tool") await dropPrefix(target, TOOL_STATE_PREFIX);
    check(r, opts.seeded, method !== "one-key");
    console.log(line(r));
    results.push(r);
  }
  // The server-CPU floor: two pipelined HGETALLs a pair, nothing compared.
  process.stdout.write(`  ${"two-hgetall".padEnd(12)} ... `);
  const floor = await withUsage(target, async () => ({
    ...fromTally(
      { method: "two-hgetall", status: "ok", copies: null, seconds: 0, keys: 0, keysPerSec: null },
      await twoHgetallVerify(ctx),
    ),
  }));
  console.log(line(floor));
  results.push(floor);
  // Once more with the orphan pass (the tool's default), reported beside the compared run.
  process.stdout.write(`  ${"tool+orphans".padEnd(12)} ... `);
  const withOrphans = await withUsage(target, () =>
    toolVerify(target, NEW_PREFIX, opts.batchSize, opts.seeded.keys, true),
  );
  await dropPrefix(target, TOOL_STATE_PREFIX);
  check(withOrphans, opts.seeded, true);
  console.log(line(withOrphans));
  // Once more with every load guard on but set never to trigger: their cost alone (a PING
  // and an INFO per master per second, the control key before each batch).
  process.stdout.write(`  ${"tool+guards".padEnd(12)} ... `);
  const guards = ["--max-latency", "60000", "--max-memory", "100", "--max-ops", "100000000"];
  const withGuards = await withUsage(target, () =>
    toolVerify(target, NEW_PREFIX, opts.batchSize, opts.seeded.keys, false, [
      ...guards,
      "--max-replica-lag",
      "1000000000000",
    ]),
  );
  await dropPrefix(target, TOOL_STATE_PREFIX);
  check(withGuards, opts.seeded, true);
  console.log(line(withGuards));
  const tool = results.find((r) => r.method === "tool")!;
  tool.variants = { "with orphan pass": withOrphans, "with load guards": withGuards };
  if (tool.keysPerSec && withGuards.keysPerSec) {
    const overhead = 100 * (1 - withGuards.keysPerSec / tool.keysPerSec);
    console.log(
      `  load guards' overhead: ${overhead.toFixed(1)}% of throughput (target < 5%) ${overhead < 5 ? "PASS" : "FAIL"}`,
    );
  }
  await dropPrefix(target, NEW_PREFIX);
  return results;
}
