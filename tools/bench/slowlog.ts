import type { Target } from "./target.js";
import { pipelineErrors, type SlowlogStats } from "./types.js";

/** CLIENT SETNAME of the latency probe's connections: its own calls are not the load. */
export const PROBE_CLIENT_NAME = "bench-latency-probe";

/** The bench's own commands around a window (withUsage's INFO cpu, resets, flushes). */
const ADMIN = new Set(["config", "slowlog", "info", "flushall", "flushdb"]);

// Redis 7: [id, unix time, duration µs, [command, ...args], client address, client name].
type Entry = [number, number, number, string[], string, string];

/** Log every command over 1 ms on every master, from an empty log. */
export async function resetSlowlog(target: Target): Promise<void> {
  const res = await Promise.all(
    target.conns.map((c) =>
      c
        .pipeline()
        .config("SET", "slowlog-log-slower-than", "1000")
        .config("SET", "slowlog-max-len", "100000")
        .slowlog("RESET")
        .exec(),
    ),
  );
  res.forEach(pipelineErrors);
}

const clip = (s: string | undefined, n = 24) =>
  s === undefined ? "" : s.length > n ? `${s.slice(0, n)}…` : s;

/** Counts what every master logged since resetSlowlog (SLOWLOG GET -1: all entries). */
export async function readSlowlog(target: Target): Promise<SlowlogStats> {
  const logs = await Promise.all(
    target.conns.map(async (c) => (await c.slowlog("GET", -1)) as Entry[]),
  );
  const out: SlowlogStats = { over1ms: 0, over2ms: 0, over5ms: 0, longest: null };
  let longestUs = 0;
  for (const [, , us, args, , name] of logs.flat()) {
    if (name === PROBE_CLIENT_NAME || ADMIN.has(args[0]?.toLowerCase() ?? "")) continue;
    if (us > 1000) out.over1ms++;
    if (us > 2000) out.over2ms++;
    if (us > 5000) out.over5ms++;
    if (us > longestUs) {
      longestUs = us;
      out.longest = { ms: us / 1000, command: `${args[0]?.toUpperCase()} ${clip(args[1])}`.trim() };
    }
  }
  return out;
}
