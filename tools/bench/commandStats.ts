import type { Target } from "./target.js";

export type CommandStats = Record<string, { calls: number; usec: number }>;

/** Zeroes INFO commandstats on every master, so the next read covers one method alone. */
export async function resetCommandStats(target: Target): Promise<void> {
  await Promise.all(target.conns.map((c) => c.config("RESETSTAT")));
}

/**
 * Calls and microseconds per command, summed over masters. Commands a script runs are
 * counted too, and their time is also inside the script's own (evalsha) figure.
 */
export async function readCommandStats(target: Target): Promise<CommandStats> {
  const out: CommandStats = {};
  for (const info of await Promise.all(target.conns.map((c) => c.info("commandstats")))) {
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      const s = (out[m[1]!] ??= { calls: 0, usec: 0 });
      s.calls += Number(m[2]);
      s.usec += Number(m[3]);
    }
  }
  return out;
}

/** "evalsha 1.20 s / 2,000, hget 0.40 s / 1.1M, ...": the costliest first. */
export function topCommands(stats: CommandStats, n = 6): string {
  const calls = (c: number) =>
    c >= 1e6 ? `${(c / 1e6).toFixed(1)}M` : c >= 1e4 ? `${Math.round(c / 1e3)}k` : String(c);
  return Object.entries(stats)
    .filter(([cmd]) => !/^(config|slowlog)/.test(cmd) && cmd !== "info")
    .sort(([, a], [, b]) => b.usec - a.usec)
    .slice(0, n)
    .map(([cmd, s]) => `${cmd} ${(s.usec / 1e6).toFixed(2)} s/${calls(s.calls)}`)
    .join(", ");
}
