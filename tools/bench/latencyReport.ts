import { num, printTable, verdict, type Column } from "./format.js";
import { PROBE_CALLS_PER_SEC } from "./latencyProbe.js";
import type { OperationReport, TargetCheck } from "./report.js";
import type { LatencyResult, MethodResult, SlowlogStats } from "./types.js";

/** The probe's p99 may rise this much over idle while the tool runs (the target). */
const P99_OVER_IDLE_MS = 1;

export const P99_TARGET = `tool probe p99 within ${P99_OVER_IDLE_MS} ms of idle`;
export const SLOW_TARGET = "tool commands over 2 ms <= pipelined's";

const latencyOf = (methods: MethodResult[], id: string) =>
  methods.find((m) => m.method === id && m.status === "ok")?.latency;

/**
 * --latency targets, on either topology: the tool keeps the probe's p99 within 1 ms of the
 * idle window's, and leaves no more commands over 2 ms in SLOWLOG than the pipelined client.
 */
export function latencyTargets(methods: MethodResult[], idle: LatencyResult): TargetCheck[] {
  const tool = latencyOf(methods, "tool");
  const pipelined = latencyOf(methods, "pipelined");
  const toolP99 = tool?.probe.p99 ?? null;
  const idleP99 = idle.probe.p99;
  const rise = toolP99 === null || idleP99 === null ? null : toolP99 - idleP99;
  const slow = tool && pipelined ? tool.slowlog.over2ms : null;
  const ceiling = pipelined?.slowlog.over2ms ?? 0;
  return [
    {
      name: P99_TARGET,
      value: rise,
      goal: `<= +${P99_OVER_IDLE_MS} ms`,
      pass: rise === null ? null : rise <= P99_OVER_IDLE_MS,
    },
    {
      name: SLOW_TARGET,
      value: slow,
      goal: `<= ${ceiling}`,
      pass: slow === null ? null : slow <= ceiling,
    },
  ];
}

type Row = { method: string; keysPerSec: number | null; latency: LatencyResult };

const ms = (v: number | null) => num(v, 2);
const longest = (l: SlowlogStats["longest"]) => (l ? `${num(l.ms, 1)} ms ${l.command}` : "-");
const COLUMNS: Column<Row>[] = [
  ["method", (r) => r.method],
  ["keys/s", (r) => num(r.keysPerSec)],
  ["seconds", (r) => num(r.latency.seconds, 2)],
  ["calls", (r) => num(r.latency.probe.calls)],
  ["p50 ms", (r) => ms(r.latency.probe.p50)],
  ["p99 ms", (r) => ms(r.latency.probe.p99)],
  ["p999 ms", (r) => ms(r.latency.probe.p999)],
  ["max ms", (r) => ms(r.latency.probe.max)],
  ["slow>1ms", (r) => num(r.latency.slowlog.over1ms)],
  ["slow>2ms", (r) => num(r.latency.slowlog.over2ms)],
  ["slow>5ms", (r) => num(r.latency.slowlog.over5ms)],
  ["host CPU%", (r) => num(r.latency.hostCpuPct)],
  ["longest", (r) => longest(r.latency.slowlog.longest), "left"],
];

/** Idle first, then each measured method, then its variants (verify's extra tool runs). */
function rows(r: OperationReport): Row[] {
  const out: Row[] = [{ method: "idle", keysPerSec: null, latency: r.idleLatency! }];
  const add = (method: string, m: MethodResult) => {
    if (m.latency && m.status === "ok")
      out.push({ method, keysPerSec: m.keysPerSec, latency: m.latency });
  };
  for (const m of r.methods) add(m.method, m);
  for (const m of r.methods)
    for (const [label, v] of Object.entries(m.variants ?? {})) add(`${m.method} ${label}`, v);
  return out;
}

/** Above this, the idle window was not idle: something else ran on the machine. */
const BUSY_IDLE_PCT = 25;

export function printLatency(r: OperationReport): void {
  console.log(
    `  latency: probe = HGET status at ${num(PROBE_CALLS_PER_SEC)}/s from another process; ` +
      `SLOWLOG without the probe's and the bench's admin commands`,
  );
  const all = rows(r);
  printTable(COLUMNS, all);
  for (const { method, latency: l } of all)
    if (l.probe.errors + l.probe.skipped > 0)
      console.log(
        `  note ${method}: probe ${l.probe.errors} errors, ${l.probe.skipped} calls not sent (probe starved or server stalled)`,
      );
  const idleCpu = r.idleLatency?.hostCpuPct ?? 0;
  if (idleCpu > BUSY_IDLE_PCT)
    console.log(
      `  host CPU ${num(idleCpu)}% while idle: other processes ran, the idle figures are noisy`,
    );
  const tool = all.find((x) => x.method === "tool")?.latency;
  const pipelined = all.find((x) => x.method === "pipelined")?.latency;
  const shown: [string, string][] = [
    [P99_TARGET, `tool ${ms(tool?.probe.p99 ?? null)} vs idle ${ms(r.idleLatency!.probe.p99)} ms`],
    [
      SLOW_TARGET,
      `tool ${num(tool?.slowlog.over2ms)} vs pipelined ${num(pipelined?.slowlog.over2ms)}`,
    ],
  ];
  for (const [name, v] of shown) {
    const t = r.targets.find((x) => x.name === name);
    if (t) console.log(`  ${name.padEnd(40)} ${t.value === null ? "n/a" : v}${verdict(t)}`);
  }
}
