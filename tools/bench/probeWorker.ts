/**
 * The app-like latency probe, a child process of the bench (latencyProbe.ts forks it): an
 * app is another process, and the bench's own event loop (a pipelined baseline decoding
 * replies) must not delay the probe's replies. HGET <key> status on each master's own
 * connection, at a fixed rate in all, each call timed with process.hrtime.bigint().
 *
 * argv[2]: ProbeConfig as JSON. Messages in: "start", "stop"; out: "ready", ProbeStats.
 */
import { Redis } from "ioredis";
import type { ProbeStats } from "./types.js";

export interface ProbeConfig {
  /** One per master: where to connect and the key to read there. */
  nodes: { host: string; port: number; key: string }[];
  callsPerSec: number;
  clientName: string;
}

const TICK_MS = 1;
// Fixed rate: a call is sent when due even if earlier ones are still waiting (a stalled
// server is then seen by every call an app would have made meanwhile), up to this many
// outstanding per connection (half a second of calls: only a long stall reaches it).
const MAX_OUTSTANDING = 1000;
// A tick this many calls late (the probe was not scheduled) sends only these; the rest
// are counted as skipped rather than sent in one burst.
const MAX_CATCH_UP = 20;

const cfg = JSON.parse(process.argv[2] ?? "{}") as ProbeConfig;
const conns = cfg.nodes.map(
  (n) =>
    new Redis({
      host: n.host,
      port: n.port,
      connectionName: cfg.clientName,
      maxRetriesPerRequest: 1,
    }),
);
const outstanding = conns.map(() => 0);
let samplesUs: number[] = [];
let errors = 0;
let skipped = 0;
let issued = 0;
let t0 = 0n;
let timer: ReturnType<typeof setInterval> | null = null;

function call(i: number): void {
  if (outstanding[i]! >= MAX_OUTSTANDING) return void skipped++;
  outstanding[i]!++;
  const sent = process.hrtime.bigint();
  conns[i]!.hget(cfg.nodes[i]!.key, "status").then(
    () => {
      samplesUs.push(Number(process.hrtime.bigint() - sent) / 1000);
      outstanding[i]!--;
    },
    () => {
      errors++;
      outstanding[i]!--;
    },
  );
}

function tick(): void {
  const due = Math.floor((Number(process.hrtime.bigint() - t0) / 1e9) * cfg.callsPerSec) - issued;
  const late = Math.max(0, due - MAX_CATCH_UP);
  skipped += late;
  issued += late;
  for (let k = late; k < due; k++) call(issued++ % conns.length);
}

/** Nearest-rank percentile of sorted samples, in ms. */
const pct = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? null : sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]! / 1000;

async function stop(): Promise<ProbeStats> {
  if (timer) clearInterval(timer);
  timer = null;
  // The last calls' replies count too: a stall at the very end is still the method's.
  const deadline = Date.now() + 10_000;
  while (outstanding.some((n) => n > 0) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 1));
  const sorted = Float64Array.from(samplesUs).sort();
  return {
    calls: sorted.length,
    errors,
    skipped,
    p50: pct(sorted, 0.5),
    p99: pct(sorted, 0.99),
    p999: pct(sorted, 0.999),
    max: pct(sorted, 1),
  };
}

function start(): void {
  samplesUs = [];
  errors = skipped = issued = 0;
  t0 = process.hrtime.bigint();
  timer = setInterval(tick, TICK_MS);
}

process.on("message", (msg) => {
  if (msg === "start") start();
  else if (msg === "stop") void stop().then((stats) => process.send?.(stats));
});
// The bench closing the channel (or dying) ends the probe.
process.on("disconnect", () => {
  if (timer) clearInterval(timer);
  for (const c of conns) c.disconnect();
});

void Promise.all(conns.map((c) => c.ping())).then(
  () => process.send?.("ready"),
  (err: unknown) => {
    console.error(`latency probe: ${String(err)}`);
    process.exit(1);
  },
);
