/**
 * `npm run bench -- --only follow`: the proofs of verify --follow (issue 14) on real
 * servers, single instance and (with --cluster) a 3-master Cluster:
 *  1. a correct dual-write at --follow-rate calls/s for --follow-seconds: 0 confirmed;
 *  2. the same with 1 in --broken-every updates skipping the new key, and the subscriber
 *     connections killed halfway: exactly the broken pairs confirmed, each one's delay from
 *     its write to its line in the report;
 *  3. the events/s one follow process sustains, and the server CPU it adds (the writer at
 *     the same rate for as long, without and with follow);
 *  4. with --memory-minutes M: RSS of the follow process every 10 s over M minutes of
 *     distinct keys.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { startRedisCluster, startRedisServer } from "../../redisProcess.js";
import { startWriter } from "./appWriter.js";
import { procStats, quantile, startFollowProcess, untilFollowing } from "./followRun.js";

export interface FollowBenchArgs {
  cluster: boolean;
  seconds: number;
  rate: number;
  brokenEvery: number;
  memoryMinutes: number;
}

interface Deployment {
  kind: "single" | "cluster";
  url: string;
  redis: Redis | Cluster;
  /** Every redis-server process (masters and replicas). */
  pids: () => number[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
const s = (ms: number | undefined) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(2)} s`);
const serverCpuMs = (d: Deployment) => d.pids().reduce((t, pid) => t + procStats(pid).cpuMs, 0);
const PREFIX = (label: string) => `bench-follow-${label}-${Date.now()}:`;
const prefixArgs = (p: string) => [
  ...["--old-prefix", `${p}ai:jobs:`, "--new-prefix", `${p}ai:job:`, "--state-prefix", `${p}jm:`],
];

async function deploy(kind: "single" | "cluster"): Promise<Deployment> {
  if (kind === "single") {
    const srv = await startRedisServer();
    return {
      kind,
      url: srv.url,
      redis: new Redis(srv.url),
      pids: () => [srv.pid],
      stop: () => srv.stop(),
    };
  }
  const c = await startRedisCluster({ masters: 3 });
  const redis = new Cluster([c.nodes[0]!]);
  return { kind, url: c.url, redis, pids: () => c.servers.map((x) => x.pid), stop: () => c.stop() };
}

/** Kill every follow subscriber connection (each master's): events are lost until it resubscribes. */
async function killSubscribers(d: Deployment): Promise<number> {
  const nodes = d.redis instanceof Cluster ? d.redis.nodes("master") : [d.redis];
  let n = 0;
  for (const node of nodes) {
    const list = String(await node.call("CLIENT", "LIST", "TYPE", "pubsub"));
    for (const m of list.matchAll(/id=(\d+) [^\n]*name=jobs-migrate:follow/g)) {
      await node.call("CLIENT", "KILL", "ID", m[1]!);
      n++;
    }
  }
  return n;
}

/**
 * A follow process for `forSeconds` on a prefix of its own (none with `forSeconds` 0),
 * then the writer on that prefix.
 */
async function followAndWrite(
  d: Deployment,
  label: string,
  forSeconds: number,
  report: string,
  writer: { rate: number; brokenEvery: number; concurrency?: number },
) {
  const p = PREFIX(label);
  const args = [...prefixArgs(p), "--enable-notifications", "--settle", "1s"];
  const f = forSeconds
    ? startFollowProcess(d.url, [...args, "--for", `${forSeconds}s`], report)
    : undefined;
  if (f) await untilFollowing(f);
  const w = startWriter({
    redis: d.redis,
    oldPrefix: `${p}ai:jobs:`,
    newPrefix: `${p}ai:job:`,
    callsPerSecond: writer.rate,
    brokenEvery: writer.brokenEvery,
    concurrency: writer.concurrency,
  });
  return { f, w };
}

async function accuracyRun(d: Deployment, a: FollowBenchArgs, brokenEvery: number, dir: string) {
  const report = join(dir, `${d.kind}-${brokenEvery}.jsonl`);
  const label = brokenEvery ? "broken" : "clean";
  const writer = { rate: a.rate, brokenEvery };
  const { f: follow, w } = await followAndWrite(d, label, a.seconds + 3, report, writer);
  const f = follow!;
  const t0 = Date.now();
  let killed = 0;
  let killedAt = 0;
  if (brokenEvery) {
    await sleep((a.seconds * 1000) / 2);
    killedAt = Date.now();
    killed = await killSubscribers(d);
  }
  await sleep(a.seconds * 1000 - (Date.now() - t0));
  const stats = await w.stop();
  const secs = (Date.now() - t0) / 1000;
  const r = await f.done;
  const counts = (r.json.counts ?? {}) as Record<string, number>;
  const lag = (r.json.lagMs ?? {}) as Record<string, number>;
  const broken = [...stats.broken.keys()];
  const found = broken.filter((k) => f.seen.has(k)).length;
  const falseConfirmed = [...f.seen.keys()].filter((k) => !stats.broken.has(k)).length;
  // Pairs broken around the kill are found by the catch-up sweep: measured apart.
  const inGap = (k: string) => Math.abs(stats.broken.get(k)! - killedAt - 500) <= 1000;
  const delay = (k: string) => (f.seen.has(k) ? [f.seen.get(k)! - stats.broken.get(k)!] : []);
  const delays = broken.filter((k) => !killedAt || !inGap(k)).flatMap(delay);
  const gapDelays = killedAt ? broken.filter(inGap).flatMap(delay) : [];
  console.log(
    `  ${brokenEvery ? `1 in ${brokenEvery} updates broken, ${killed} subscriber(s) killed at ${a.seconds / 2} s` : "correct dual-write"}: ` +
      `${Math.round(stats.calls / secs)} calls/s for ${secs.toFixed(0)} s, exit ${r.code}; checked ${counts.checked ?? 0}, ` +
      `confirmed ${counts.confirmed ?? 0}, transient ${counts.transient ?? 0}, caught up ${counts.caughtUp ?? 0}, dropped ${counts.dropped ?? 0}`,
  );
  console.log(
    `    lag write->check (all pairs): p50 ${s(lag.p50)}, p99 ${s(lag.p99)}, max ${s(lag.max)} over ${lag.pairs ?? 0} pairs`,
  );
  if (brokenEvery)
    console.log(
      `    broken pairs ${broken.length}, found ${found} (recall ${broken.length ? ((100 * found) / broken.length).toFixed(1) : "-"}%), false confirmed ${falseConfirmed}; ` +
        `write->report p50 ${s(quantile(delays, 0.5))}, p99 ${s(quantile(delays, 0.99))}, max ${s(quantile(delays, 1))}` +
        (killedAt
          ? `; ${gapDelays.length} broken within 1 s of the kill: max ${s(quantile(gapDelays, 1))}`
          : ""),
    );
  return {
    kind: d.kind,
    brokenEvery,
    exit: r.code,
    calls: stats.calls,
    seconds: secs,
    counts,
    lag,
    broken: broken.length,
    found,
    falseConfirmed,
    killed,
  };
}

/** The writer at `rate` for `seconds`, without then with follow: server CPU and events/s. */
async function costRun(d: Deployment, rate: number, seconds: number, dir: string) {
  const cpuOf = async (withFollow: boolean) => {
    const label = withFollow ? "cost-on" : "cost-off";
    const report = join(dir, `${d.kind}-cost.jsonl`);
    const writer = { rate, brokenEvery: 0, concurrency: 64 };
    const { f, w } = await followAndWrite(d, label, withFollow ? seconds + 2 : 0, report, writer);
    const cpu0 = serverCpuMs(d);
    const own0 = f ? procStats(f.pid).cpuMs : 0;
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const cpu = serverCpuMs(d) - cpu0;
    const own = f ? procStats(f.pid).cpuMs - own0 : 0;
    const stats = await w.stop();
    const secs = (Date.now() - t0) / 1000;
    const r = f ? await f.done : undefined;
    const events = ((r?.json.counts ?? {}) as Record<string, number>).events ?? 0;
    return {
      hsets: stats.hsets,
      calls: stats.calls / secs,
      serverCpuPct: cpu / 10 / secs,
      followCpuPct: own / 10 / secs,
      events,
      secs,
      confirmed: ((r?.json.counts ?? {}) as Record<string, number>).confirmed ?? 0,
    };
  };
  const off = await cpuOf(false);
  const on = await cpuOf(true);
  console.log(
    `  cost at ${Math.round(on.calls)} calls/s: redis-server CPU ${off.serverCpuPct.toFixed(1)}% without follow, ${on.serverCpuPct.toFixed(1)}% with (+${(on.serverCpuPct - off.serverCpuPct).toFixed(1)}% of a core); ` +
      `follow received ${on.events} events of the writer's ${on.hsets} HSETs (${Math.round(on.events / on.secs)}/s) using ${on.followCpuPct.toFixed(1)}% of a core, ${on.confirmed} confirmed`,
  );
  return { off, on };
}

/**
 * Events as fast as a pipelined writer makes them (pairs written whole, equal): how many
 * events per second one follow process takes in, and whether it still checks every pair.
 */
async function flatOutRun(d: Deployment, seconds: number, dir: string) {
  const p = PREFIX("flat-out");
  const args = [...prefixArgs(p), "--enable-notifications", "--settle", "1s"];
  const f = startFollowProcess(
    d.url,
    [...args, "--for", `${seconds + 1}s`],
    join(dir, "flat.jsonl"),
  );
  await untilFollowing(f);
  const own0 = procStats(f.pid).cpuMs;
  const cpu0 = serverCpuMs(d);
  const t0 = Date.now();
  let hsets = 0;
  for (let n = 0; Date.now() - t0 < seconds * 1000;) {
    // Sent together, not awaited one by one (a Cluster pipeline must stay in one slot).
    const sent: Promise<number>[] = [];
    for (let i = 0; i < 100; i++, n++) {
      const job = ["job_id", `j${n}`, "workspace_id", "ws-1", "status", "pending"];
      sent.push(
        d.redis.hset(`${p}ai:jobs:j${n}`, ...job),
        d.redis.hset(`${p}ai:job:ws-1:j${n}`, ...job),
      );
    }
    await Promise.all(sent);
    hsets += 200;
  }
  const secs = (Date.now() - t0) / 1000;
  const own = procStats(f.pid).cpuMs - own0;
  const cpu = serverCpuMs(d) - cpu0;
  const r = await f.done;
  const c = (r.json.counts ?? {}) as Record<string, number>;
  console.log(
    `  flat out: ${Math.round(hsets / secs)} HSETs/s for ${secs.toFixed(0)} s; follow received ${c.events ?? 0} of ${hsets} events ` +
      `(${Math.round((c.events ?? 0) / secs)}/s) using ${(own / 10 / secs).toFixed(0)}% of a core (${((1000 * own) / Math.max(1, c.events ?? 0)).toFixed(1)} µs per event, its checks included), ` +
      `redis-server ${(cpu / 10 / secs).toFixed(0)}%; checked ${c.checked ?? 0} of ${hsets / 2} pairs, sampled out ${c.sampledOut ?? 0}, dropped ${c.dropped ?? 0}, confirmed ${c.confirmed ?? 0}, exit ${r.code}`,
  );
  return { hsetsPerSecond: hsets / secs, counts: c, followCpuMs: own, serverCpuMs: cpu, secs };
}

async function memoryRun(d: Deployment, a: FollowBenchArgs, dir: string) {
  const total = a.memoryMinutes * 60;
  const report = join(dir, `${d.kind}-memory.jsonl`);
  const writer = { rate: a.rate, brokenEvery: 0 };
  const { f: follow, w } = await followAndWrite(d, "memory", total, report, writer);
  const f = follow!;
  const samples: { s: number; rss: number }[] = [];
  const t0 = Date.now();
  // The last sample 10 s before --for ends it.
  while (Date.now() - t0 + 10_000 < (total - 10) * 1000) {
    await sleep(10_000);
    const rss = procStats(f.pid).rssBytes;
    samples.push({ s: Math.round((Date.now() - t0) / 1000), rss });
    console.log(
      `    ${samples.at(-1)!.s} s: RSS ${mb(rss)}, ${w.stats.jobs} distinct jobs written`,
    );
  }
  const stats = await w.stop();
  const r = await f.done;
  const after30 = samples.filter((x) => x.s >= 30);
  console.log(
    `  memory over ${a.memoryMinutes} min of distinct keys (${stats.jobs} jobs): RSS at 30 s ${mb(after30[0]?.rss ?? 0)}, at the end ${mb(samples.at(-1)?.rss ?? 0)}, ` +
      `max ${mb(Math.max(...samples.map((x) => x.rss)))}; exit ${r.code}`,
  );
  return { samples, jobs: stats.jobs };
}

export async function benchFollow(a: FollowBenchArgs): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "bench-follow-"));
  const out: Record<string, unknown>[] = [];
  try {
    for (const kind of a.cluster ? (["single", "cluster"] as const) : (["single"] as const)) {
      const d = await deploy(kind);
      try {
        console.log(`\n[${kind}] verify --follow, app writer at ${a.rate} calls/s, --settle 1s:`);
        const clean = await accuracyRun(d, a, 0, dir);
        const broken = await accuracyRun(d, a, a.brokenEvery, dir);
        const cost = await costRun(d, a.rate, 15, dir);
        const flatOut = await flatOutRun(d, 10, dir);
        const memory =
          a.memoryMinutes > 0 && kind === "single" ? await memoryRun(d, a, dir) : undefined;
        out.push({ kind, clean, broken, cost, flatOut, memory });
      } finally {
        d.redis.disconnect();
        await d.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { follow: out };
}
