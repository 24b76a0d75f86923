import { UsageError } from "../errors.js";

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30m", "24h", "2d" → milliseconds; anything else is a usage error naming the flag. */
export function parseDuration(name: string, s: string): number {
  const m = DURATION.exec(s);
  if (!m) throw new UsageError(`${name} must be a duration like 30m, 24h, 2d (got "${s}")`);
  return Number(m[1]) * UNIT[m[2]!]!;
}
