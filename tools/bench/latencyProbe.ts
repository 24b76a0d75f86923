import { fork, type ChildProcess } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { num } from "./format.js";
import { busyPercent, hostCpu } from "./hostCpu.js";
import { isMalformed, oldKey } from "./jobData.js";
import { onCleanup } from "./lifecycle.js";
import type { ProbeConfig } from "./probeWorker.js";
import type { SeedResult } from "./seed.js";
import { PROBE_CLIENT_NAME, readSlowlog, resetSlowlog } from "./slowlog.js";
import type { Target } from "./target.js";
import type { LatencyResult, ProbeStats } from "./types.js";

/** HGET calls per second in all, spread over the masters, as a busy app might send. */
export const PROBE_CALLS_PER_SEC = 2000;
export const IDLE_SECONDS = 3;

/** The probe process (probeWorker.ts), paused between windows. */
export interface LatencyProbe {
  start(): void;
  stop(): Promise<ProbeStats>;
  close(): void;
}

/**
 * Per master, the old key of a malformed job: no operation migrates or deletes those (even
 * cleanup leaves them), so the probe reads an existing key of the keyspace throughout.
 */
export function probeKeys(target: Target, normalJobs: number): string[] {
  const keys: (string | undefined)[] = target.masters.map(() => undefined);
  for (let i = 0; i < normalJobs && keys.includes(undefined); i++) {
    if (isMalformed(i)) keys[target.indexFor(oldKey(i))] ??= oldKey(i);
  }
  if (keys.includes(undefined))
    throw new Error("--latency: too few keys for a malformed job on every master, raise --keys");
  return keys as string[];
}

function nextMessage(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`latency probe exited (${code})`));
    child.once("exit", onExit);
    child.once("message", (m) => {
      child.off("exit", onExit);
      resolve(m);
    });
  });
}

async function forkProbe(target: Target, keys: string[]): Promise<LatencyProbe> {
  const cfg: ProbeConfig = {
    nodes: target.masters.map((m, i) => ({ host: m.host, port: m.port, key: keys[i]! })),
    callsPerSec: PROBE_CALLS_PER_SEC,
    clientName: PROBE_CLIENT_NAME,
  };
  const path = fileURLToPath(new URL("./probeWorker.js", import.meta.url));
  const child = fork(path, [JSON.stringify(cfg)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const off = onCleanup(() => void child.kill("SIGKILL"));
  // An app runs on its own host: the probe's own wait for a CPU here (2 cores shared with
  // redis-server, the method and anything else) is not what it would feel. Root only.
  try {
    os.setPriority(child.pid!, -10);
  } catch {
    // unprivileged: measured at normal priority
  }
  if ((await nextMessage(child)) !== "ready") throw new Error("latency probe did not start");
  return {
    start: () => void child.send("start"),
    stop: async () => {
      const reply = nextMessage(child);
      child.send("stop");
      return (await reply) as ProbeStats;
    },
    close: () => {
      off();
      child.disconnect();
    },
  };
}

/**
 * Runs `body` with the probe on and SLOWLOG emptied on every master: what an app felt while
 * it ran. Without a probe on `target` (no --latency), only runs it.
 */
export async function withLatency<T>(
  target: Target,
  body: () => Promise<T>,
): Promise<{ value: T; latency: LatencyResult | null }> {
  const probe = target.latency;
  if (!probe) return { value: await body(), latency: null };
  await resetSlowlog(target);
  probe.start();
  const host0 = hostCpu();
  const t0 = performance.now();
  let value: T;
  try {
    value = await body();
  } catch (err) {
    await probe.stop();
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  const hostCpuPct = busyPercent(host0, hostCpu());
  const stats = await probe.stop();
  const slowlog = await readSlowlog(target);
  return { value, latency: { seconds, hostCpuPct, probe: stats, slowlog } };
}

const ms = (v: number | null) => num(v, 2);

/** One line for the progress log: probe percentiles and SLOWLOG counts. */
export function latencyLine(l: LatencyResult): string {
  const { probe: p, slowlog: s } = l;
  return (
    `probe p50 ${ms(p.p50)} / p99 ${ms(p.p99)} / p999 ${ms(p.p999)} / max ${ms(p.max)} ms` +
    ` (${p.calls} calls), SLOWLOG >1ms ${s.over1ms}, >2ms ${s.over2ms}, >5ms ${s.over5ms}` +
    `, host CPU ${num(l.hostCpuPct)}%`
  );
}

/**
 * --latency: forks the probe onto `target` (every method's withUsage then opens a window)
 * and measures the idle window. Returns the idle result; closeProbe() ends the probe.
 */
export async function attachProbe(target: Target, seeded: SeedResult): Promise<LatencyResult> {
  target.latency = await forkProbe(target, probeKeys(target, seeded.keys - seeded.big));
  const sleep = () => new Promise<void>((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const idle = (await withLatency(target, sleep)).latency!;
  console.log(`  idle ${IDLE_SECONDS} s      ... ${latencyLine(idle)}`);
  return idle;
}

export function closeProbe(target: Target): void {
  target.latency?.close();
  delete target.latency;
}
