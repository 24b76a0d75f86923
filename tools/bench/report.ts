import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RESULTS_DIR } from "./paths.js";
import type { SeedResult } from "./seed.js";
import type { MethodId, MethodResult } from "./types.js";

export interface TargetCheck {
  name: string;
  value: number | null;
  goal: string;
  /** null: not measured (e.g. the CLI failed), which is neither a pass nor a fail. */
  pass: boolean | null;
}

export interface OperationReport {
  operation: string;
  kind: "single" | "cluster";
  keys: number;
  batchSize: number;
  seed: SeedResult;
  methods: MethodResult[];
  ratios: Record<string, number | null>;
  targets: TargetCheck[];
}

const num = (v: number | null | undefined, digits = 0) =>
  v == null
    ? "-"
    : v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Worst of the tool's own figure and our /proc sampling. */
export function peakRssMb(r: Pick<MethodResult, "rss"> | undefined): number | null {
  const vals = [r?.rss?.reportedMb, r?.rss?.sampledMb].filter((v): v is number => v != null);
  return vals.length ? Math.max(...vals) : null;
}

export function analyse(
  operation: string,
  kind: "single" | "cluster",
  seed: SeedResult,
  batchSize: number,
  methods: MethodResult[],
): OperationReport {
  const speed = (m: MethodId) =>
    methods.find((r) => r.method === m && r.status === "ok")?.keysPerSec ?? null;
  const tool = speed("tool");
  const ratio = (m: MethodId) => (tool !== null && speed(m) ? tool / speed(m)! : null);
  const ratios = {
    "tool / one-key": ratio("one-key"),
    "tool / pipelined": ratio("pipelined"),
    "tool / server-side": ratio("server-side"),
  };
  const rss = tool === null ? null : peakRssMb(methods.find((r) => r.method === "tool"));
  const check = (name: string, value: number | null, goal: string, ok: (v: number) => boolean) => ({
    name,
    value,
    goal,
    pass: value === null ? null : ok(value),
  });
  const targets =
    kind === "single"
      ? [
          check("tool / one-key", ratios["tool / one-key"], ">= 10x", (v) => v >= 10),
          check("tool / pipelined", ratios["tool / pipelined"], ">= 2x", (v) => v >= 2),
          check("tool / server-side", ratios["tool / server-side"], ">= 0.8x", (v) => v >= 0.8),
          check("tool peak RSS (MB)", rss, "< 150 MB", (v) => v < 150),
        ]
      : [];
  return { operation, kind, keys: seed.keys, batchSize, seed, methods, ratios, targets };
}

export function printReport(r: OperationReport): void {
  console.log(`\n== ${r.operation}, ${r.kind} (${num(r.keys)} old keys, batch ${r.batchSize}) ==`);
  const head = ["method", "keys", "seconds", "keys/s", "copies", "host CPU%", "peak RSS MB"];
  const rows = r.methods.map((m) => [
    m.method,
    m.status === "n/a" ? "-" : num(m.keys),
    m.status === "n/a" ? "-" : num(m.seconds, 2),
    m.status === "ok" ? num(m.keysPerSec) : m.status.toUpperCase(),
    num(m.copies),
    num(m.hostCpuPct),
    m.rss ? `${num(m.rss.reportedMb, 1)} (sampled ${num(m.rss.sampledMb, 1)})` : "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(line(head));
  for (const row of rows) console.log(line(row));
  for (const m of r.methods) if (m.note) console.log(`  note ${m.method}: ${m.note}`);
  if (r.methods.some((m) => (m.hostCpuPct ?? 0) > 90)) {
    console.log("  host CPU% near 100: other processes competed, figures are noisy");
  }
  if (r.methods.some((m) => m.method === "one-key" && m.status === "ok")) {
    // Seen on a 2-vCPU VM: ~3k keys/s with idle CPUs (slow wake-ups), ~15k with busy ones.
    console.log("  one-key is bound by round-trip latency and swings several-fold between runs");
  }
  for (const [name, v] of Object.entries(r.ratios)) {
    const t = r.targets.find((x) => x.name === name);
    console.log(`  ${name.padEnd(20)} ${v === null ? "n/a" : `${num(v, 2)}x`}${verdict(t)}`);
  }
  const rss = r.targets.find((t) => t.name.includes("RSS"));
  if (rss)
    console.log(
      `  ${"tool peak RSS".padEnd(20)} ${rss.value === null ? "n/a" : `${num(rss.value, 1)} MB`}${verdict(rss)}`,
    );
}

function verdict(t: TargetCheck | undefined): string {
  if (!t) return "";
  if (t.pass === null) return `   (target ${t.goal}) NOT MEASURED: tool did not run`;
  return `   (target ${t.goal}) ${t.pass ? "PASS" : "FAIL  <<<<<<<<"}`;
}

export function writeJson(doc: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const path = join(RESULTS_DIR, `results-${stamp}.json`);
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}

export function printRssCurve(
  points: { keys: number; status: string; rss?: MethodResult["rss"]; note?: string }[],
): void {
  console.log(`\n== tool peak RSS by size (single, fresh server each) ==`);
  for (const p of points) {
    const mb =
      p.status === "ok"
        ? `${num(peakRssMb(p), 1)} MB (reported ${num(p.rss?.reportedMb, 1)}, sampled ${num(p.rss?.sampledMb, 1)})`
        : `${p.status.toUpperCase()}: ${p.note ?? ""}`;
    console.log(`  ${num(p.keys).padStart(11)} keys: ${mb}`);
  }
}
