import type { BatchOutcome, ProcessBatch } from "../../engine/runSpec.js";
import type { RedisTarget } from "../../redis/target.js";
import { toArchiveLine } from "../shared/archive.js";
import { countOutcome, type CleanupOutcome } from "./cleanupOutcome.js";
import type { CleanupSettings } from "./cleanupSettings.js";
import { oldWritesOn, type RecreationWatch } from "./recreationWatch.js";
import { add, tally } from "../shared/outcomes.js";
import { sameHash, toFlat } from "../shared/hashFields.js";
import { displayBytes, mapOldKey } from "../shared/keySchema.js";
import { listOversized, oversizedAmong } from "../shared/oversized.js";
import { dumpJobs, type JobDump } from "../shared/snapshots.js";
import { readStates } from "../shared/nodeReads.js";
import { decodeCodes } from "../shared/scriptCodes.js";
import { commandBudget } from "../../redis/commandBudget.js";

async function archiveVictims(
  target: RedisTarget,
  s: CleanupSettings,
  victims: { key: Buffer }[],
): Promise<void> {
  if (!s.archive || victims.length === 0) return;
  const states = await readStates(
    target,
    victims.map((v) => v.key),
  );
  const at = new Date().toISOString();
  await s.archive(
    victims.flatMap(({ key }, i) => {
      const st = states[i]!;
      return st.type === "hash"
        ? [toArchiveLine(key, toFlat(st.fields), st.pttl, displayBytes(key), at)]
        : [];
    }),
  );
}

/** What cleanup does with a key too big for a short command (for the oversized list). */
export const WHOLE_KEY =
  "compared, archived and deleted with whole-key commands (DUMP): Redis has no shorter form";

/** Each key's DUMP (null: no such key), from the nodes that own them. */
async function dumpsByNode(target: RedisTarget, keys: Buffer[]): Promise<(Buffer | null)[]> {
  const out = new Array<Buffer | null>(keys.length);
  await Promise.all(
    [...target.groupByNode(keys)].map(async ([n, idx]) =>
      (
        await commandBudget.inChunks(n, "dumpKeys", idx.length, (a, b) =>
          n.dumpKeysBuffer(...idx.slice(a, b).map((i) => keys[i]!)),
        )
      )
        .flat()
        .forEach((d, j) => (out[idx[j]!] = d)),
    ),
  );
  return out;
}

/**
 * Cluster: the pair's keys live in different slots. Compare (DUMPs first: the same bytes
 * are the same hash; fields when the DUMPs differ, as those of a hash held in a hash table
 * do on another node), then delete with deleteIfUnchanged-0.lua, which removes a key only
 * if it still DUMPs as it did before the comparison.
 */
export function cleanupCluster(
  target: RedisTarget,
  s: CleanupSettings,
  watch: RecreationWatch,
): ProcessBatch {
  return async (keys, { node }) => {
    await watch.check();
    const out: BatchOutcome = { counts: {}, findings: [] };
    const olds = await dumpJobs(node.client, keys);
    // A partial hash at a key cleanup deleted was re-created by update_status; one that
    // was there before cleanup is just an unmigratable key.
    const isPartial = (o: JobDump) =>
      o.type === "hash" && !o.workspaceId && !o.jobId && o.hasStatus;
    const partial = keys.filter((_, i) => isPartial(olds[i]!));
    const deletedBefore = await s.tombstones.has(partial);
    const recreated = partial.find((_, i) => deletedBefore[i]);
    if (recreated) throw oldWritesOn(recreated, "is a partial hash re-created by update_status");
    // Old keys whose DUMP is big enough to matter are asked their size (the single
    // instance's cleanup has listed its own already: they come here as oversized).
    if (target.isCluster) {
      const big = keys.filter(
        (_, i) => (olds[i]!.dump?.length ?? 0) > commandBudget.maxKeyBytes / 16,
      );
      if (big.length > 0) listOversized(out, await oversizedAmong(node.client, big), WHOLE_KEY);
    }
    const pairs: { oldKey: Buffer; newKey: Buffer; old: JobDump }[] = [];
    keys.forEach((oldKey, i) => {
      const o = olds[i]!;
      if (o.type === "none") return countOutcome(out, oldKey, "vanished", s.execute);
      if (o.type !== "hash") return countOutcome(out, oldKey, "not_a_hash", s.execute);
      const m = mapOldKey(s.schema, oldKey, o.workspaceId, o.jobId, o.hasStatus);
      if (!m.ok) return tally(out, oldKey, m.reason);
      pairs.push({ oldKey, newKey: m.newKey, old: o });
    });
    const news = await dumpsByNode(
      target,
      pairs.map((p) => p.newKey),
    );
    // A new key with the old key's bytes is an equal hash; one that exists with other
    // bytes is read field by field (or found not to be a hash).
    const unsure = pairs.filter((p, i) => news[i] && !news[i]!.equals(p.old.dump!));
    const [oldStates, newStates] = await Promise.all([
      readStates(
        target,
        unsure.map((p) => p.oldKey),
      ),
      readStates(
        target,
        unsure.map((p) => p.newKey),
      ),
    ]);
    // Why an unsure pair is kept: its new key is gone or not a hash, or the two differ;
    // none when they hold the same fields.
    const kept = new Map<(typeof pairs)[number], CleanupOutcome>();
    unsure.forEach((p, j) => {
      const n = newStates[j]!;
      if (n.type === "none") kept.set(p, "newMissing");
      else if (n.type !== "hash") kept.set(p, "newWrongType");
      else if (!sameHash(oldStates[j]!.fields, n.fields)) kept.set(p, "differs");
    });
    const victims: { key: Buffer; dump: Buffer; oldKey: Buffer }[] = [];
    pairs.forEach((p, i) => {
      const newDump = news[i];
      if (!newDump) return countOutcome(out, p.oldKey, "newMissing", s.execute);
      const code = kept.get(p);
      if (code) return countOutcome(out, p.oldKey, code, s.execute);
      victims.push(
        s.side === "old"
          ? { key: p.oldKey, dump: p.old.dump!, oldKey: p.oldKey }
          : { key: p.newKey, dump: newDump, oldKey: p.oldKey },
      );
    });
    if (!s.execute) {
      add(out, "wouldDelete", victims.length);
      return out;
    }
    await archiveVictims(target, s, victims);
    if (s.side === "old") await s.tombstones.add(victims.map((v) => v.key));
    const deleted: Buffer[] = [];
    await Promise.all(
      [...target.groupByNode(victims.map((v) => v.key))].map(async ([n, idx]) => {
        const vs = idx.map((i) => victims[i]!);
        const codes = decodeCodes(
          "deleteIfUnchanged",
          (
            await commandBudget.inChunks(n, "deleteIfUnchanged", vs.length, (a, b) => {
              const chunk = vs.slice(a, b);
              return n.deleteIfUnchanged(
                chunk.length,
                ...chunk.map((v) => v.key),
                ...chunk.map((v) => v.dump),
              );
            })
          ).join(""),
        );
        vs.forEach((v, j) => {
          countOutcome(out, v.oldKey, codes[j]!, true);
          if (codes[j] === "deleted" && s.side === "old") deleted.push(v.key);
        });
      }),
    );
    watch.remember(deleted);
    return out;
  };
}
