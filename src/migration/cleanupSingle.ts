import type { Redis } from "ioredis";
import type { BatchOutcome, ProcessBatch } from "../engine/runSpec.js";
import type { RedisTarget } from "../redis/target.js";
import { toArchiveRecord, type ArchiveRecord } from "./archive.js";
import {
  countCode,
  oldWritesOn,
  type CleanupSettings,
  type RecreationWatch,
} from "./cleanupBatch.js";
import { displayBytes } from "./keySchema.js";

/** A pair proven equal by compareAndDelete-n.lua in mode "A", with its archive record. */
interface Archived {
  /** Index of its old key in the batch. */
  at: number;
  victim: Buffer;
  other: Buffer;
  victimDigest: Buffer;
  otherDigest: Buffer;
  record: ArchiveRecord;
}

/** Parse mode "A"'s details: for each "D" code, victim, other key, PTTL, digests, fields. */
function archivedPairs(codes: string, details: (Buffer | number)[]): Archived[] {
  const out: Archived[] = [];
  const archivedAt = new Date().toISOString();
  let d = 0;
  for (let i = 0; i < codes.length; i++) {
    if (codes[i] !== "D") continue;
    const victim = details[d] as Buffer;
    const n = Number(details[d + 5]);
    const fields = details.slice(d + 6, d + 6 + n) as Buffer[];
    const pttl = Number(details[d + 2]);
    out.push({
      at: i,
      victim,
      other: details[d + 1] as Buffer,
      victimDigest: details[d + 3] as Buffer,
      otherDigest: details[d + 4] as Buffer,
      record: toArchiveRecord(victim, fields, pttl, displayBytes(victim), archivedAt),
    });
    d += 6 + n;
  }
  return out;
}

/**
 * Single instance: compareAndDelete-n.lua proves each pair equal and deletes in one
 * atomic step. With an archive it only proves (mode "A", returning what to archive and
 * a digest of both keys); the records are written and handed to the OS; then
 * deleteUnchangedPairs-n.lua deletes each key whose pair is still exactly as proven.
 */
export function cleanupAtomic(
  target: RedisTarget,
  s: CleanupSettings,
  watch: RecreationWatch,
): ProcessBatch {
  const client = target.client as Redis;
  const tombstones = s.side === "old" ? s.tombstones.singleKey : "";
  const run = async (keys: Buffer[], mode: "0" | "1" | "A") => {
    const [codes, details] = await client.compareAndDeleteBuffer(
      keys.length,
      ...keys,
      s.schema.oldPrefix,
      s.schema.newPrefix,
      s.side,
      mode,
      s.tombstones.singleKey,
    );
    return { codes: codes.toString("latin1"), details };
  };
  return async (keys) => {
    // The watch and the batch's own script go out together (one round trip). If the
    // watch then finds a re-created key, this batch's deletions were still each proven
    // at their instant: stopping right after them loses nothing.
    const watching = watch.check();
    watching.catch(() => undefined);
    const out: BatchOutcome = { counts: {}, findings: [] };
    const archive = s.execute ? s.archive : undefined;
    const { codes, details } = await run(keys, archive ? "A" : s.execute ? "1" : "0");
    const final = codes.split("");
    if (archive) {
      const pairs = archivedPairs(codes, details);
      if (pairs.length > 0) {
        await archive(pairs.map((p) => p.record));
        const done = await client.deleteUnchangedPairs(
          2 * pairs.length,
          ...pairs.map((p) => p.victim),
          ...pairs.map((p) => p.other),
          tombstones,
          ...pairs.map((p) => p.victimDigest),
          ...pairs.map((p) => p.otherDigest),
        );
        pairs.forEach((p, j) => (final[p.at] = done[j]!));
      }
    }
    await watching;
    const deleted: Buffer[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (final[i] === "P")
        throw oldWritesOn(keys[i]!, "is a partial hash re-created by update_status");
      countCode(out, keys[i]!, final[i]!, s.execute);
      if (final[i] === "D" && s.execute && s.side === "old") deleted.push(keys[i]!);
    }
    watch.remember(deleted);
    return out;
  };
}
