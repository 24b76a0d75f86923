import type { BatchOutcome, ProcessBatch } from "../engine/runSpec.js";
import type { RedisTarget } from "../redis/target.js";
import type { KeySchema } from "./keySchema.js";
import type { Divergence } from "./pairDiff.js";
import { recheck } from "./recheck.js";
import { inSample } from "./sampling.js";
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
  const client = target.client;
  const isOrphan = async (
    newKey: Buffer,
    owner: { oldKey: Buffer; workspaceId: Buffer },
  ): Promise<Divergence | undefined> => {
    const ws = await client.hgetBuffer(owner.oldKey, "workspace_id").catch(() => null);
    if (ws && ws.equals(owner.workspaceId)) return undefined;
    return {
      oldKey: owner.oldKey,
      newKey,
      kinds: ["orphan"],
      differs: [],
      missing: [],
      extra: [],
      oldTtlMs: -2,
      newTtlMs: -2,
    };
  };
  return async (keys) => {
    const out: BatchOutcome = { counts: {}, findings: [] };
    const suspects: Divergence[] = [];
    await Promise.all(
      keys.map(async (newKey) => {
        const owner = oldKeyOf(schema, newKey);
        if (!owner) return add(out, "newForeign");
        if (!inSample(owner.oldKey, s.sampleFraction)) return add(out, "outOfSample");
        if (s.compare.workspaces && !s.compare.workspaces.has(owner.workspaceId.toString("latin1")))
          return add(out, "outOfScope");
        add(out, "newChecked");
        const d = await isOrphan(newKey, owner);
        if (d) suspects.push(d);
      }),
    );
    if (suspects.length === 0) return out;
    const decided = await recheck(suspects, s.recheck, (ds) =>
      Promise.all(
        ds.map((d) =>
          isOrphan(d.newKey, {
            oldKey: d.oldKey,
            workspaceId: oldKeyOf(schema, d.newKey)!.workspaceId,
          }),
        ),
      ),
    );
    await settleDivergences(target, s, out, decided);
    add(out, "orphans", decided.confirmed.length);
    return out;
  };
}
