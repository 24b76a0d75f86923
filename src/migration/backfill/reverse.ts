import type { Cluster, Redis } from "ioredis";
import type { BatchOutcome, ProcessBatch } from "../../engine/runSpec.js";
import type { RedisTarget } from "../../redis/target.js";
import { toFlat } from "../shared/hashFields.js";
import { displayBytes, oldKeyOf, type KeySchema } from "../shared/keySchema.js";
import { restoreIfAbsent, dumpJobs } from "../shared/snapshots.js";
import type { Tombstones } from "../shared/tombstones.js";
import { readStates } from "../shared/nodeReads.js";
import { add } from "../shared/outcomes.js";
import { decodeCodes, type MeaningOf } from "../shared/scriptCodes.js";
import { commandBudget } from "../../redis/commandBudget.js";

export interface ReverseSettings {
  schema: KeySchema;
  tombstones: Tombstones;
  /** Also create old keys for new keys that never had one. */
  recreateMissing: boolean;
}

type Reverse = MeaningOf<"reverseCopy">;

function count(out: BatchOutcome, key: Buffer, m: Reverse): void {
  add(out, m);
  if (m === "conflict")
    out.findings.push({
      key: displayBytes(key),
      reason: "conflict",
      detail: "the old key differs from the new one and is not a partial of it: left as is",
    });
}

/** Single instance: reverseCopy-n.lua decides and copies each pair atomically. */
export function reverseAtomic(target: RedisTarget, s: ReverseSettings): ProcessBatch {
  const client = target.client as Redis;
  return async (keys) => {
    const out: BatchOutcome = { counts: {}, findings: [] };
    // Atomic per pair, which is all a rebuild needs: chunks in separate calls lose nothing.
    const codes = (
      await commandBudget.inChunks(client, "reverseCopy", keys.length, (a, b) =>
        client.reverseCopy(
          b - a,
          ...keys.slice(a, b),
          s.schema.newPrefix,
          s.schema.oldPrefix,
          s.tombstones.singleKey,
          s.recreateMissing ? "1" : "0",
        ),
      )
    ).join("");
    decodeCodes("reverseCopy", codes).forEach((m, i) => count(out, keys[i]!, m));
    return out;
  };
}

/**
 * Cluster: snapshot the new keys (DUMP) on their node, read the old keys, then rebuild
 * an absent old key with restore-if-absent, and replace a partial one with a
 * compare-and-set that only lands if it is still the partial that was read.
 */
export function reverseCluster(target: RedisTarget, s: ReverseSettings): ProcessBatch {
  const cluster = target.client as Cluster;
  return async (keys, { node }) => {
    const out: BatchOutcome = { counts: {}, findings: [] };
    const news = await dumpJobs(node.client, keys);
    const [newStates] = await Promise.all([readStates(target, keys)]);
    const jobs = keys.flatMap((newKey, i) => {
      const owner = oldKeyOf(s.schema, newKey);
      if (!owner) return (count(out, newKey, "newForeign"), []);
      if (news[i]!.type !== "hash") return (count(out, newKey, "notAHash"), []);
      return [{ newKey, oldKey: owner.oldKey, snap: news[i]!, fields: newStates[i]!.fields }];
    });
    const olds = await readStates(
      target,
      jobs.map((j) => j.oldKey),
    );
    const had = await s.tombstones.has(jobs.map((j) => j.oldKey));
    await Promise.all(
      jobs.map(async (j, i) => {
        const o = olds[i]!;
        if (o.type === "none") {
          if (!had[i] && !s.recreateMissing) return count(out, j.newKey, "neverHadOld");
          const [created] = await restoreIfAbsent(target.nodeForKey(j.oldKey), [
            { newKey: j.oldKey, snap: j.snap },
          ]);
          return count(out, j.newKey, created ? "rebuilt" : "conflict");
        }
        if (o.type !== "hash") return count(out, j.newKey, "conflict");
        const subset = [...o.fields].every(([f, v]) => j.fields.get(f)?.equals(v));
        if (subset && o.fields.size === j.fields.size)
          return count(out, j.newKey, "alreadyPresent");
        if (!subset || o.fields.has("workspace_id") || o.fields.has("job_id"))
          return count(out, j.newKey, "conflict");
        const r = await cluster.replaceIfUnchanged(
          j.oldKey,
          o.fields.size,
          ...toFlat(o.fields),
          ...toFlat(j.fields),
        );
        if (r === 1 && j.snap.pttl > 0) await cluster.pexpire(j.oldKey, j.snap.pttl);
        count(out, j.newKey, r === 1 ? "repairedPartial" : "conflict");
      }),
    );
    return out;
  };
}
