import type { Redis } from "ioredis";
import type { BatchOutcome, ProcessBatch } from "../../engine/runSpec.js";
import type { RedisTarget } from "../../redis/target.js";
import { toArchiveLine } from "../shared/archive.js";
import { decodeCodes } from "../shared/scriptCodes.js";
import { countOutcome, type CleanupOutcome } from "./cleanupOutcome.js";
import type { CleanupSettings } from "./cleanupSettings.js";
import { oldWritesOn, type RecreationWatch } from "./recreationWatch.js";
import { displayBytes } from "../shared/keySchema.js";
import { commandBudget } from "../../redis/commandBudget.js";
import { cleanupCluster, WHOLE_KEY } from "./cleanupCluster.js";
import { listOversized, oversizedAmong } from "../shared/oversized.js";
import { add } from "../shared/outcomes.js";

/**
 * The items compareAndDelete-n.lua joined with zero bytes, or null when a field itself
 * held a zero byte (more parts than items: the join is ambiguous).
 */
export function splitJoined(joined: Buffer, count: number): Buffer[] | null {
  const items: Buffer[] = [];
  let from = 0;
  for (;;) {
    const at = joined.indexOf(0, from);
    if (at < 0) break;
    if (items.length === count - 1) return null;
    items.push(joined.subarray(from, at));
    from = at + 1;
  }
  items.push(joined.subarray(from));
  return items.length === count ? items : null;
}

/**
 * Mode "A" details: for each "D" code, the key moved aside, its PTTL, its item count and
 * items. Hashes whose items cannot be split are read back from their aside keys (still
 * there: each is deleted only after its record is written), all in one pipeline.
 */
async function movedAside(
  client: Redis,
  asidePrefix: Buffer,
  codes: CleanupOutcome[],
  details: (Buffer | number)[],
): Promise<{ keys: Buffer[]; lines: string[] }> {
  const moved: { key: Buffer; aside: Buffer; pttl: number; fields: Buffer[] | null }[] = [];
  let d = 0;
  for (let i = 0; i < codes.length; i++) {
    if (codes[i] !== "deleted") continue;
    const key = details[d] as Buffer;
    moved.push({
      key,
      aside: Buffer.concat([asidePrefix, key]),
      pttl: Number(details[d + 1]),
      fields: splitJoined(details[d + 3] as Buffer, Number(details[d + 2])),
    });
    d += 4;
  }
  const unsplit = moved.filter((m) => m.fields === null);
  if (unsplit.length > 0) {
    const read = client.pipeline();
    for (const m of unsplit) read.callBuffer("HGETALL", m.aside);
    const replies = (await read.exec()) ?? [];
    unsplit.forEach((m, j) => {
      const [err, flat] = replies[j]!;
      if (err) throw err;
      m.fields = flat as Buffer[];
    });
  }
  const archivedAt = new Date().toISOString();
  return {
    keys: moved.map((m) => m.aside),
    // Empty only if read back after its TTL ran out: gone by itself, nothing to archive.
    lines: moved
      .filter((m) => m.fields!.length > 0)
      .map((m) => toArchiveLine(m.key, m.fields!, m.pttl, displayBytes(m.key), archivedAt)),
  };
}

/**
 * UNLINK many keys of a single instance, 200 per command (a small hash is freed at once,
 * so a command stays well within the command budget); how many there were.
 */
export async function unlinkAll(client: Redis, keys: Buffer[]): Promise<number> {
  let gone = 0;
  for (let i = 0; i < keys.length; i += 200) gone += await client.unlink(...keys.slice(i, i + 200));
  return gone;
}

/** A batch processor, and what to do once the last batch is done. */
export interface SingleCleanup {
  processBatch: ProcessBatch;
  /** Delete the keys still aside whose records are written (end of run, or on a stop). */
  flush(): Promise<void>;
}

/**
 * Single instance: compareAndDelete-n.lua proves each pair equal and deletes in one
 * atomic step. With an archive, the same step moves each proven key aside (RENAMENX to
 * the aside prefix + its name) instead of deleting it; the batch's records are written
 * and handed to the OS; the next batch's script deletes those keys (flush() the last
 * ones). A key is never in neither place: it is under its name, or aside, or in the
 * archive. Keys a crash left aside are settled by the next cleanup run (settleAside).
 */
export function cleanupAtomic(
  target: RedisTarget,
  s: CleanupSettings,
  watch: RecreationWatch,
): SingleCleanup {
  const client = target.client as Redis;
  const prefix = Buffer.from(s.asidePrefix);
  // Aside, with their records written: deleted by the next script that goes out.
  let written: Buffer[] = [];
  // A pair too big for one script call is proven the Cluster's way instead: compared
  // from snapshots and read in pages, then deleted only if its DUMP is unchanged.
  const bigPairs = cleanupCluster(target, s, watch);
  const processBatch: ProcessBatch = async (keys, ctx) => {
    // The watch and the batch's own script go out together (one round trip). If the
    // watch then finds a re-created key, this batch's deletions were still each proven
    // at their instant: stopping right after them loses nothing.
    const watching = watch.check();
    watching.catch(() => undefined);
    const out: BatchOutcome = { counts: {}, findings: [] };
    const archive = s.execute ? s.archive : undefined;
    const unlink = archive ? written : [];
    if (archive) written = [];
    // Atomic per pair (the comparison and the deletion of a pair in one script), which is
    // all §3.3 needs: the batch goes in short calls, each also deleting its share of the
    // keys whose archive records are written.
    const share = (i: number) => Math.round((i * unlink.length) / keys.length);
    const replies = await commandBudget.inChunks(client, "compareAndDelete", keys.length, (a, b) =>
      client.compareAndDeleteBuffer(
        b - a,
        ...keys.slice(a, b),
        s.schema.oldPrefix,
        s.schema.newPrefix,
        s.side,
        archive ? "A" : s.execute ? "1" : "0",
        s.tombstones.singleKey,
        s.asidePrefix,
        s.asideCount,
        commandBudget.maxKeyBytes,
        ...unlink.slice(share(a), share(b)),
      ),
    );
    const codes = decodeCodes(
      "compareAndDelete",
      replies.map(([raw]) => raw.toString("latin1")).join(""),
    );
    const details = replies.flatMap(([, d]) => d);
    const big = keys.filter((_, i) => codes[i] === "oversized");
    if (big.length > 0) {
      // No short command compares, archives or deletes them: say which, and how big.
      listOversized(out, await oversizedAmong(client, big), WHOLE_KEY);
      const more = await bigPairs(big, ctx);
      for (const [k, n] of Object.entries(more.counts)) add(out, k, n);
      out.findings.push(...more.findings);
    }
    if (archive) {
      const moved = await movedAside(client, prefix, codes, details);
      if (moved.keys.length > 0) {
        if (moved.lines.length > 0) await archive(moved.lines);
        written.push(...moved.keys);
      }
    }
    await watching;
    const deleted: Buffer[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (codes[i] === "recreatedPartial")
        throw oldWritesOn(keys[i]!, "is a partial hash re-created by update_status");
      countOutcome(out, keys[i]!, codes[i]!, s.execute);
      if (codes[i] === "deleted" && s.execute && s.side === "old") deleted.push(keys[i]!);
    }
    watch.remember(deleted);
    return out;
  };
  return {
    processBatch,
    async flush() {
      const last = written;
      written = [];
      if (last.length === 0) return;
      await client.decrby(s.asideCount, await unlinkAll(client, last));
    },
  };
}
