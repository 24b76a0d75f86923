import type { BatchOutcome, ProcessBatch } from "../engine/runSpec.js";
import type { RedisTarget } from "../redis/target.js";
import type { KeySchema } from "./keySchema.js";
import type { Divergence } from "./pairDiff.js";
import { recheck } from "./recheck.js";
import { inSample } from "./sampling.js";
import { workspacesOf } from "./verifyCompare.js";
import { add, settleDivergences, type VerifySettings } from "./verifyPairs.js";

/** The old key a new job key belongs to, or undefined for a key of another shape. */
export function oldKeyOf(
  schema: KeySchema,
  newKey: Buffer,
): { oldKey: Buffer; workspaceId: Buffer } | undefined {
  const rest = newKey.subarray(Buffer.byteLength(schema.newPrefix));
  const colon = rest.indexOf(0x3a);
  if (colon <= 0 || colon === rest.length - 1) return undefined;
  return {
    workspaceId: rest.subarray(0, colon),
    oldKey: Buffer.concat([Buffer.from(schema.oldPrefix), rest.subarray(colon + 1)]),
  };
}

/**
 * Verify's second pass, over the new prefix: a new job key is an orphan when no old key
 * maps to it (the old key is gone, or names another workspace). Orphans are re-checked
 * like divergences; they are never repaired (that would mean deleting).
 */
export function findOrphans(
  target: RedisTarget,
  schema: KeySchema,
  s: VerifySettings,
): ProcessBatch {
  // A new key is an orphan unless its old key names its workspace; one script per node.
  type Owned = { newKey: Buffer; oldKey: Buffer; workspaceId: Buffer };
  const orphansAmong = async (pairs: Owned[]): Promise<(Divergence | undefined)[]> => {
    const ws = await workspacesOf(
      target,
      pairs.map((p) => p.oldKey),
    );
    return pairs.map((p, i) =>
      ws[i]?.equals(p.workspaceId)
        ? undefined
        : {
            oldKey: p.oldKey,
            newKey: p.newKey,
            kinds: ["orphan"],
            differs: [],
            missing: [],
            extra: [],
            oldTtlMs: -2,
            newTtlMs: -2,
          },
    );
  };
  return async (keys, ctx) => {
    const out: BatchOutcome = { counts: {}, findings: [] };
    const pairs: { newKey: Buffer; oldKey: Buffer; workspaceId: Buffer }[] = [];
    for (const newKey of keys) {
      const owner = oldKeyOf(schema, newKey);
      if (!owner) add(out, "newForeign");
      else if (!inSample(owner.oldKey, s.sampleFraction)) add(out, "outOfSample");
      else if (
        s.compare.workspaces &&
        !s.compare.workspaces.has(owner.workspaceId.toString("latin1"))
      )
        add(out, "outOfScope");
      else pairs.push({ newKey, ...owner });
    }
    add(out, "newChecked", pairs.length);
    const suspects = (await orphansAmong(pairs)).filter((d): d is Divergence => d !== undefined);
    if (suspects.length === 0) return out;
    ctx.parked(); // re-checks mostly wait: let the walk go on meanwhile
    const decided = await recheck(suspects, s.recheck, (ds) =>
      orphansAmong(
        ds.map((d) => ({
          newKey: d.newKey,
          oldKey: d.oldKey,
          workspaceId: oldKeyOf(schema, d.newKey)!.workspaceId,
        })),
      ),
    );
    await settleDivergences(target, s, out, decided);
    add(out, "orphans", decided.confirmed.length);
    return out;
  };
}
