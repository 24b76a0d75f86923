import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { onCleanup } from "./lifecycle.js";
import { CLI_PATH, RESULTS_DIR } from "./paths.js";
import { MB, type MethodResult, type RowId, type RssInfo } from "./types.js";

export interface ToolRun {
  ok: boolean;
  exitCode: number | null;
  seconds: number;
  json: Record<string, unknown> | null;
  rss: RssInfo;
  /** utime + stime of the child from its last /proc sample (up to 50 ms short). */
  cpuSeconds: number | null;
  error?: string;
}

// USER_HZ: 100 on every Linux ABI node runs on; /proc/<pid>/stat counts CPU in these ticks.
const TICKS_PER_SECOND = 100;

function readProcCpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" closing comm: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null; // already exited, or not Linux
  }
}

function readProcKb(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return { rss: field("VmRSS"), hwm: field("VmHWM") };
  } catch {
    return null; // already exited
  }
}

/** --json output is one document; tolerate stray lines before it. */
function parseJsonOutput(stdout: string): Record<string, unknown> | null {
  const text = stdout.trim();
  for (const candidate of [text, text.slice(text.search(/^\{/m)), text.split("\n").pop() ?? ""]) {
    try {
      const v: unknown = JSON.parse(candidate);
      if (v !== null && typeof v === "object") return v as Record<string, unknown>;
    } catch {
      // try the next shape
    }
  }
  return null;
}

/**
 * Runs `node bin/jobs-migrate.js <args>`, timing wall clock and sampling VmRSS every 50 ms.
 * Never throws for a failing tool: the failure is returned so the report can show it.
 * `env` is set on top of the filtered environment (e.g. the flag cleanup's guard reads).
 */
export async function runTool(args: string[], env: Record<string, string> = {}): Promise<ToolRun> {
  const noRss: RssInfo = { reportedMb: null, sampledMb: null, hwmMb: null };
  if (!existsSync(CLI_PATH)) {
    return {
      ok: false,
      exitCode: null,
      seconds: 0,
      json: null,
      rss: noRss,
      cpuSeconds: null,
      error: `CLI not found at ${CLI_PATH}`,
    };
  }
  // The CLI reads .env from its cwd and REDIS_*/JOBS_MIGRATE_* from the environment: a
  // developer's password or --rate there must not leak into the benchmark's servers.
  mkdirSync(RESULTS_DIR, { recursive: true });
  const childEnv = {
    ...Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(REDIS_|JOBS_MIGRATE_)/.test(k)),
    ),
    ...env,
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: RESULTS_DIR,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const off = onCleanup(() => void child.kill("SIGKILL"));
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  let maxRssKb = 0;
  let hwmKb = 0;
  let cpuTicks: number | null = null;
  const sample = () => {
    const s = child.pid === undefined ? null : readProcKb(child.pid);
    if (s) {
      maxRssKb = Math.max(maxRssKb, s.rss);
      hwmKb = Math.max(hwmKb, s.hwm);
    }
    const t = child.pid === undefined ? null : readProcCpuTicks(child.pid);
    if (t !== null) cpuTicks = Math.max(cpuTicks ?? 0, t);
  };
  const timer = setInterval(sample, 50);
  const exitCode = await new Promise<number | null>((resolve) => {
    child.once("error", (e) => {
      stderr += e.message;
      resolve(null);
    });
    child.once("close", (code) => resolve(code));
  });
  clearInterval(timer);
  off();
  const seconds = (performance.now() - t0) / 1000;
  const json = parseJsonOutput(stdout);
  const stats = (json?.["stats"] ?? {}) as Record<string, unknown>;
  const peak = typeof stats["peakRssBytes"] === "number" ? stats["peakRssBytes"] : null;
  const rss: RssInfo = {
    reportedMb: peak === null ? null : peak / MB,
    sampledMb: maxRssKb > 0 ? maxRssKb / 1024 : null,
    hwmMb: hwmKb > 0 ? hwmKb / 1024 : null,
  };
  const cpuSeconds = cpuTicks === null ? null : cpuTicks / TICKS_PER_SECOND;
  // The most telling stderr line: the first that names an error, else the last one.
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const lastErr = (lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? "").slice(0, 300);
  // Exit 1 means "problems found" (e.g. the malformed 1%), still a complete run.
  if ((exitCode === 0 || exitCode === 1) && json !== null) {
    return { ok: true, exitCode, seconds, json, rss, cpuSeconds };
  }
  const why = json === null ? "no JSON on stdout" : "non-zero exit";
  return {
    ok: false,
    exitCode,
    seconds,
    json,
    rss,
    cpuSeconds,
    error: `exit ${exitCode}, ${why}: ${lastErr || stdout.slice(0, 300)}`,
  };
}

export const num = (v: unknown): number | null => (typeof v === "number" ? v : null);

/** The counts a run printed (--json), or none when it printed nothing. */
export const countsOf = (run: ToolRun): Record<string, unknown> =>
  (run.json?.["counts"] ?? {}) as Record<string, unknown>;

/**
 * A tool row from one run of the CLI over `keys` keys: keys/s from wall time (node start-up
 * included, as an operator sees it), and in the note the tool's own clock and CPU.
 */
export function toolResult(method: RowId, run: ToolRun, keys: number, note = ""): MethodResult {
  const ownMs = num(run.json?.["durationMs"]);
  const cpuUserMs = num(
    (run.json?.["stats"] as Record<string, unknown> | undefined)?.["cpuUserMs"],
  );
  const own = ownMs
    ? `, own durationMs ${ownMs} = ${Math.round(keys / (ownMs / 1000))} keys/s`
    : "";
  const cpu = cpuUserMs === null ? "" : `, cpuUserMs ${cpuUserMs}`;
  const counts = countsOf(run);
  return {
    method,
    status: run.ok ? "ok" : "error",
    keys: run.ok ? keys : 0,
    copies: null,
    seconds: run.seconds,
    keysPerSec: run.ok && run.seconds > 0 ? keys / run.seconds : null,
    rss: run.rss,
    clientCpuPct:
      run.cpuSeconds === null || run.seconds <= 0 ? null : (100 * run.cpuSeconds) / run.seconds,
    counters: { ...counts, ...(ownMs === null ? {} : { ownDurationMs: ownMs }) },
    note: run.ok ? `exit ${run.exitCode}${own}${cpu}${note}` : `TOOL FAILED: ${run.error}`,
  };
}
