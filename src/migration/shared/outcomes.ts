import type { Finding } from "../../engine/checkpoint.js";
import type { BatchOutcome } from "../../engine/runSpec.js";
import { displayBytes, type Unmigratable } from "./keySchema.js";

/** Add `n` to a batch's counter `key`. */
export function add(out: BatchOutcome, key: string, n = 1): void {
  out.counts[key] = (out.counts[key] ?? 0) + n;
}

/** Count one key's outcome into a batch outcome (backfill, cleanup and verify). */
export function tally(
  out: BatchOutcome,
  key: Buffer,
  result: "copied" | "alreadyPresent" | Unmigratable | "vanished",
): void {
  if (result === "copied" || result === "alreadyPresent" || result === "vanished") {
    out.counts[result] = (out.counts[result] ?? 0) + 1;
    return;
  }
  out.counts.unmigratable = (out.counts.unmigratable ?? 0) + 1;
  out.counts[`unmigratable.${result}`] = (out.counts[`unmigratable.${result}`] ?? 0) + 1;
  out.findings.push({ key: displayBytes(key), reason: result } satisfies Finding);
}
