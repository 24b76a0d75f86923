import type { Redis } from "ioredis";
import { commandBudget } from "../../redis/commandBudget.js";
import { listOversized, oversizedAmong } from "../shared/oversized.js";
import { tally } from "../shared/outcomes.js";
import type { BatchOutcome, ProcessBatch } from "../../engine/runScan.js";
import type { KeySchema } from "../shared/keySchema.js";
import { decodeCodes } from "../shared/scriptCodes.js";

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
    decodeCodes("copyIfAbsent", codes).forEach((m, i) =>
      // A key outside the old prefix is counted as not a hash, as it always was.
      tally(out, keys[i]!, m === "outsidePrefix" ? "not_a_hash" : m),
    );
    // Redis has no shorter way to copy one huge key than COPY: a call that took longer
    // than the budget because of one says which, and how big.
    if (slow.length > 0) listOversized(out, await oversizedAmong(client, slow), COPIED_WHOLE);
    return out;
  };
}
