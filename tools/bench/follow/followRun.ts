/**
 * One `verify --follow` process beside the app writer, watched from outside: its report
 * file (when each confirmed pair first appears), its RSS, its CPU and the servers' CPU.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { CLI_PATH } from "../paths.js";
import { onCleanup } from "../lifecycle.js";

/** CPU time (user + system, ms) and RSS (bytes) of a process, from /proc. */
export function procStats(pid: number): { cpuMs: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  const rssPages = Number(f[21]); // field 24
  return { cpuMs: ticks * 10, rssBytes: rssPages * 4096 };
}

export interface FollowProcess {
  pid: number;
  /** First time each confirmed old key was seen in the report (ms since the epoch). */
  seen: Map<string, number>;
  /** Resolves with the exit code and the --json result. */
  done: Promise<{ code: number | null; json: Record<string, unknown>; stderr: string }>;
  stderr(): string;
}

export function startFollowProcess(url: string, args: string[], report: string): FollowProcess {
  const child = spawn(
    process.execPath,
    [CLI_PATH, "verify", "--follow", "--redis-url", url, "--report", report, "--json", ...args],
    { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH, HOME: process.env.HOME } },
  );
  const off = onCleanup(() => child.kill("SIGKILL"));
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const seen = new Map<string, number>();
  let read = 0;
  const poll = setInterval(() => {
    if (!existsSync(report)) return;
    const text = readFileSync(report, "utf8");
    const fresh = text.slice(read, text.lastIndexOf("\n") + 1);
    read += fresh.length;
    for (const line of fresh.split("\n").filter(Boolean)) {
      const rec = JSON.parse(line) as { status: string; oldKey: string };
      if (rec.status === "confirmed" && !seen.has(rec.oldKey)) seen.set(rec.oldKey, Date.now());
    }
  }, 50);
  const done = new Promise<{ code: number | null; json: Record<string, unknown>; stderr: string }>(
    (resolve) =>
      child.on("close", (code) => {
        clearInterval(poll);
        off();
        const last = stdout.trim().split("\n").at(-1) ?? "{}";
        resolve({ code, json: JSON.parse(last.startsWith("{") ? last : "{}"), stderr });
      }),
  );
  return { pid: child.pid!, seen, done, stderr: () => stderr };
}

/** Resolves once the process says it follows (or rejects after 20 s). */
export async function untilFollowing(p: FollowProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!/following writes/.test(p.stderr())) {
    if (Date.now() > deadline) throw new Error(`follow did not start: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Quantile of a list of numbers (nearest rank). */
export function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
