import { startRedisServer } from "../../redisProcess.js";
import { dropPrefix } from "../keyspace.js";
import { using } from "../lifecycle.js";
import { seedJobs, type SeedResult } from "../seed.js";
import { singleTarget, type Target } from "../target.js";
import type { MethodCtx, MethodId, MethodResult } from "../types.js";
import { withUsage } from "../usage.js";
import { oneKeyBackfill } from "./oneKey.js";
import { pipelinedBackfill } from "./pipelined.js";
import { serverSideBackfill } from "./serverSide.js";
import { TOOL_STATE_PREFIX, toolBackfill } from "./tool.js";

export interface BackfillOptions {
  batchSize: number;
  oneKeySeconds: number;
  seeded: SeedResult;
}

const PREFIX: Record<MethodId, string> = {
  "one-key": "b1:ai:job:",
  pipelined: "b2:ai:job:",
  "server-side": "b3:ai:job:",
  tool: "b4:ai:job:",
};

const rate = (keys: number, seconds: number) => (seconds > 0 ? keys / seconds : null);

async function measure(
  method: MethodId,
  ctx: MethodCtx,
  opts: BackfillOptions,
): Promise<MethodResult> {
  const { target } = ctx;
  const base = { method, copies: null, seconds: 0, keys: 0, keysPerSec: null };
  if (method === "server-side" && target.kind === "cluster") {
    return { ...base, status: "n/a", note: "N/A on cluster (Lua touches keys of other slots)" };
  }
  try {
    switch (method) {
      case "one-key": {
        const r = await oneKeyBackfill(ctx);
        const part = r.capped
          ? `capped at ${ctx.oneKeySeconds} s: ${r.keys} of ${opts.seeded.keys} keys, rate from that part`
          : "ran to completion";
        const note = `${part}; PING round trip ${r.rttUs.toFixed(0)} µs`;
        return {
          ...base,
          keys: r.keys,
          seconds: r.seconds,
          status: "ok",
          keysPerSec: rate(r.keys, r.seconds),
          note,
        };
      }
      case "pipelined": {
        const r = await pipelinedBackfill(ctx);
        return { ...base, ...r, status: "ok", keysPerSec: rate(r.keys, r.seconds) };
      }
      case "server-side": {
        const r = await serverSideBackfill(ctx);
        return {
          ...base,
          keys: r.keys,
          seconds: r.seconds,
          status: "ok",
          keysPerSec: rate(r.keys, r.seconds),
        };
      }
      case "tool":
        return await toolBackfill(target, ctx.newPrefix, ctx.batchSize, opts.seeded.keys);
    }
  } catch (err) {
    return {
      ...base,
      status: "error",
      note: `FAILED: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

/**
 * Runs every method over the same seeded old keys, each into its own prefix. After each,
 * its copies are counted and deleted so the next method SCANs an identical keyspace.
 */
export async function benchBackfill(
  target: Target,
  opts: BackfillOptions,
): Promise<MethodResult[]> {
  const expected = opts.seeded.keys - opts.seeded.malformed;
  const results: MethodResult[] = [];
  for (const method of Object.keys(PREFIX) as MethodId[]) {
    const ctx = {
      target,
      batchSize: opts.batchSize,
      newPrefix: PREFIX[method],
      oneKeySeconds: opts.oneKeySeconds,
    };
    process.stdout.write(`  ${method.padEnd(12)} ... `);
    const r = await withUsage(target, () => measure(method, ctx, opts));
    if (r.status !== "n/a") r.copies = await dropPrefix(target, PREFIX[method]);
    if (method === "tool") await dropPrefix(target, TOOL_STATE_PREFIX);
    const complete = method !== "one-key" && r.status === "ok";
    if (complete && r.copies !== expected) {
      r.note = `${r.note ? `${r.note}; ` : ""}WRONG COPY COUNT: expected ${expected}, found ${r.copies}`;
    }
    const speed =
      r.keysPerSec === null
        ? r.status.toUpperCase()
        : `${Math.round(r.keysPerSec).toLocaleString("en-US")} keys/s`;
    const detail = r.status === "n/a" ? "" : ` (${r.keys} keys, ${r.seconds.toFixed(2)} s)`;
    console.log(`${speed}${detail}${r.note ? ` — ${r.note}` : ""}`);
    results.push(r);
  }
  return results;
}

export interface RssPoint {
  keys: number;
  status: MethodResult["status"];
  rss: MethodResult["rss"];
  keysPerSec: number | null;
  note?: string;
}

/** Peak RSS of the tool at several sizes, each on a fresh server holding only old keys. */
export async function rssCurve(sizes: number[], batchSize: number): Promise<RssPoint[]> {
  const points: RssPoint[] = [];
  for (const keys of sizes) {
    const point = await using(
      () => startRedisServer(),
      async (srv) => {
        const target = singleTarget(srv.url, { host: srv.host, port: srv.port });
        try {
          await seedJobs(target, keys);
          const r = await toolBackfill(target, PREFIX.tool, batchSize, keys);
          return {
            keys,
            status: r.status,
            rss: r.rss,
            keysPerSec: r.keysPerSec,
            ...(r.note ? { note: r.note } : {}),
          };
        } finally {
          await target.close();
        }
      },
    );
    const mb = (v: number | null | undefined) => (v == null ? "n/a" : `${v.toFixed(1)} MB`);
    console.log(
      `  rss-curve ${keys} keys: reported ${mb(point.rss?.reportedMb)}, sampled ${mb(point.rss?.sampledMb)}`,
    );
    points.push(point);
  }
  return points;
}
