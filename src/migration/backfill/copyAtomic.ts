import type { Redis } from "ioredis";
import { commandBudget } from "../../redis/commandBudget.js";
import { listOversized, oversizedAmong } from "../shared/oversized.js";
import { tally } from "../shared/outcomes.js";
import type { BatchOutcome, ProcessBatch } from "../../engine/runScan.js";
import { UNMIGRATABLE_CODES, type KeySchema, type Unmigratable } from "../shared/keySchema.js";

/** copyIfAbsent-n.lua's one-letter codes, in one place. */
const OUTCOMES: Record<string, "copied" | "alreadyPresent" | Unmigratable | "vanished"> = {
  C: "copied",
  P: "alreadyPresent",
  ...UNMIGRATABLE_CODES,
  V: "vanished",
  X: "not_a_hash",
};

/** What backfill says of an oversized key it copied. */
export const COPIED_WHOLE =
  "copied in one command longer than --max-command-ms (Redis copies a key only whole)";

/**
 * Backfill on a single instance: short script calls (a batch in chunks) check and copy
 * each pair atomically (COPY without REPLACE), so no update can fall between check and copy.
 */
export function copyAtomic(client: Redis, schema: KeySchema): ProcessBatch {
  return async (keys) => {
    // Atomic per pair (check and COPY in one script), which is all §3.2 needs: chunks
    // of the batch in separate calls lose nothing.
    const slow: Buffer[] = [];
    const codes = (
      await commandBudget.inChunks(
        client,
        "copyIfAbsent",
        keys.length,
        (from, to) =>
          client.copyIfAbsent(
            to - from,
            ...keys.slice(from, to),
            schema.oldPrefix,
            schema.newPrefix,
          ),
        (from, to) => slow.push(...keys.slice(from, to)),
      )
    ).join("");
    const out: BatchOutcome = { counts: {}, findings: [] };
    for (let i = 0; i < keys.length; i++) {
      const outcome = OUTCOMES[codes[i] ?? ""];
      if (outcome === undefined)
        throw new Error(`copyIfAbsent returned an unknown code "${codes[i]}"`);
      tally(out, keys[i]!, outcome);
    }
    // Redis has no shorter way to copy one huge key than COPY: a call that took longer
    // than the budget because of one says which, and how big.
    if (slow.length > 0) listOversized(out, await oversizedAmong(client, slow), COPIED_WHOLE);
    return out;
  };
}
