import { readFileSync } from "node:fs";

export interface CpuSnapshot {
  busy: number;
  total: number;
}

/** Machine-wide CPU time from /proc/stat (null off Linux). */
export function hostCpu(): CpuSnapshot | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    const busy = user! + nice! + system! + irq! + softirq! + steal!;
    return { busy, total: busy + idle! + iowait! };
  } catch {
    return null;
  }
}

/**
 * Share of all CPUs busy between two snapshots. The methods alone keep well under 100%
 * (node and redis-server mostly take turns), so near 100% means something else was running.
 */
export function busyPercent(a: CpuSnapshot | null, b: CpuSnapshot | null): number | null {
  if (!a || !b || b.total <= a.total) return null;
  return (100 * (b.busy - a.busy)) / (b.total - a.total);
}
