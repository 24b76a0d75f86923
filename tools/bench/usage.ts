import { busyPercent, hostCpu } from "./hostCpu.js";
import { withLatency } from "./latencyProbe.js";
import type { Target } from "./target.js";
import type { MethodResult } from "./types.js";

/** used_cpu_user + used_cpu_sys of every master, in seconds (from INFO cpu). */
async function redisCpuSeconds(target: Target): Promise<number | null> {
  try {
    const infos = await Promise.all(target.conns.map((c) => c.info("cpu")));
    let s = 0;
    for (const info of infos) {
      for (const f of ["used_cpu_user", "used_cpu_sys"]) {
        s += Number(new RegExp(`^${f}:([\\d.]+)`, "m").exec(info)?.[1] ?? NaN);
      }
    }
    return Number.isFinite(s) ? s : null;
  } catch {
    return null;
  }
}

/**
 * Runs one method and records who was busy meanwhile: the machine, redis-server and the
 * client. A method that sets clientCpuPct itself (the tool, a child process) keeps it:
 * this process's own CPU would then only be the sampling. With --latency, also what the
 * app-like probe and SLOWLOG saw meanwhile.
 */
export async function withUsage(
  target: Target,
  run: () => Promise<MethodResult>,
): Promise<MethodResult> {
  const { value: r, latency } = await withLatency(target, () => timed(target, run));
  if (latency && r.status !== "n/a") r.latency = latency;
  return r;
}

async function timed(target: Target, run: () => Promise<MethodResult>): Promise<MethodResult> {
  const host0 = hostCpu();
  const redis0 = await redisCpuSeconds(target);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await run();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const redis1 = await redisCpuSeconds(target);
  if (r.status === "n/a" || wall <= 0) return r;
  r.hostCpuPct = busyPercent(host0, hostCpu());
  r.clientCpuPct ??= (100 * (cpu.user + cpu.system)) / 1e6 / wall;
  r.redisCpuPct = redis0 === null || redis1 === null ? null : (100 * (redis1 - redis0)) / wall;
  return r;
}
