import type { Redis } from "ioredis";
import type { Finding } from "../engine/checkpoint.js";
import type { BatchOutcome, ProcessBatch } from "../engine/runScan.js";
import { displayBytes, type KeySchema, type Unmigratable } from "./keySchema.js";

/** copyIfAbsent-n.lua's negative codes, in one place. */
const REASONS: Record<number, Unmigratable | "vanished"> = {
  [-1]: "not_a_hash",
  [-2]: "missing_workspace_id",
  [-3]: "invalid_workspace_id",
  [-4]: "job_id_mismatch",
  [-5]: "missing_job_id",
  [-6]: "vanished",
  [-7]: "not_a_hash",
};

/** Count one key's outcome into a batch outcome (shared by both copy strategies). */
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

/**
 * Backfill on a single instance: one script call per batch checks and copies every
 * pair atomically (COPY without REPLACE), so no update can fall between check and copy.
 */
export function copyAtomic(client: Redis, schema: KeySchema): ProcessBatch {
  return async (keys) => {
    const codes = await client.copyIfAbsent(
      keys.length,
      ...keys,
      schema.oldPrefix,
      schema.newPrefix,
    );
    const out: BatchOutcome = { counts: {}, findings: [] };
    codes.forEach((code, i) => {
      const key = keys[i]!;
      if (code === 1) tally(out, key, "copied");
      else if (code === 0) tally(out, key, "alreadyPresent");
      else tally(out, key, REASONS[code] ?? "not_a_hash");
    });
    return out;
  };
}
