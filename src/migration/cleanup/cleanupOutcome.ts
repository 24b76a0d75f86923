import type { BatchOutcome } from "../../engine/runSpec.js";
import { displayBytes, isUnmigratable } from "../shared/keySchema.js";
import { add, tally } from "../shared/outcomes.js";
import type { MeaningOf } from "../shared/scriptCodes.js";

/** What a cleanup found for one old key (compareAndDelete's or deleteIfUnchanged's meanings). */
export type CleanupOutcome = MeaningOf<"compareAndDelete"> | MeaningOf<"deleteIfUnchanged">;

/** Counts kept on purpose that list the key too. */
const LISTED: ReadonlySet<CleanupOutcome> = new Set<CleanupOutcome>([
  "differs",
  "newMissing",
  "newWrongType",
  "changedSinceCompared",
  "keptMovedAsideExists",
]);

/** Count one key's outcome; the caller decides what to do about partial old hashes. */
export function countOutcome(
  out: BatchOutcome,
  key: Buffer,
  m: CleanupOutcome,
  execute: boolean,
): void {
  if (m === "deleted") return add(out, execute ? "deleted" : "wouldDelete");
  if (m === "oversized") return; // kept: counted and listed with its size by the caller
  if (isUnmigratable(m)) return tally(out, key, m);
  add(out, m);
  if (LISTED.has(m)) out.findings.push({ key: displayBytes(key), reason: `kept: ${m}` });
}
