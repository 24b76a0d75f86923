import type { BatchOutcome, ProcessBatch } from "../../engine/runSpec.js";
import type { RedisTarget } from "../../redis/target.js";
import { displayBytes, oldKeyOf, type KeySchema } from "../shared/keySchema.js";
import type { Divergence } from "../shared/pairDiff.js";
import { recheck } from "./recheck.js";
import { inSample } from "./sampling.js";
import { workspacesOf } from "../shared/nodeReads.js";
import { directWorkspacesOf } from "./verifyDirect.js";
import { add } from "../shared/outcomes.js";
import { settleDivergences, type VerifySettings } from "./verifyPairs.js";

/** Why a key under the new prefix is not a job record (foreign), or undefined: a job. */
export type ForeignReason =
  "name_not_a_job_key" | "not_a_hash" | "no_job_id" | "fields_do_not_match_name";

type Owned = { newKey: Buffer; oldKey: Buffer; workspaceId: Buffer };

/**
 * What each new key is: a job record (a hash whose job_id and workspace_id are the ones
 * its name says), gone ("none"), or foreign with a reason. Two O(1) commands per key,
 * pipelined, asked only of keys whose old key does not vouch for them.
 */
async function shapesOf(
  target: RedisTarget,
  schema: KeySchema,
  pairs: Owned[],
): Promise<(ForeignReason | "job" | "none")[]> {
  const out = new Array<ForeignReason | "job" | "none">(pairs.length).fill("none");
  await Promise.all(
    [...target.groupByNode(pairs.map((p) => p.newKey))].map(async ([node, idx]) => {
      const pipe = node.pipeline();
      for (const i of idx) {
        pipe.type(pairs[i]!.newKey);
        pipe.hmgetBuffer(pairs[i]!.newKey, "job_id", "workspace_id");
      }
      const replies = (await pipe.exec()) ?? [];
      idx.forEach((i, j) => {
        const [typeErr, type] = replies[2 * j] ?? [];
        if (typeErr) throw typeErr;
        if (type === "none") return;
        if (type !== "hash") return (out[i] = "not_a_hash");
        const [, fields] = replies[2 * j + 1] ?? [];
        const [jobId, workspaceId] = (fields ?? []) as (Buffer | null)[];
        if (!jobId) return (out[i] = "no_job_id");
        const p = pairs[i]!;
        const id = p.oldKey.subarray(Buffer.byteLength(schema.oldPrefix));
        out[i] =
          jobId.equals(id) && workspaceId?.equals(p.workspaceId)
            ? "job"
            : "fields_do_not_match_name";
      });
    }),
  );
  return out;
}

/** Count and list a foreign key: never repaired, never deleted, not a divergence. */
function foreign(out: BatchOutcome, newKey: Buffer, reason: ForeignReason): void {
  add(out, "newForeign");
  add(out, `newForeign.${reason}`);
  out.findings.push({ key: displayBytes(newKey), reason: `foreign ${reason}` });
}

/**
 * Verify's second pass, over the new prefix. A new key whose old key names its workspace
 * is accounted for. Of the others, only job records can be orphans (a hash whose job_id
 * and workspace_id match its name, with no old key or an old key naming another
 * workspace); anything else is foreign, counted and listed by reason. Once a cleanup has
 * deleted old keys (`afterCleanup`), a job record without an old key is what cleanup left
 * on purpose (`newOnly`), not an orphan. Orphans are re-checked like divergences and are
 * never repaired (that would mean deleting).
 */
export function findOrphans(
  target: RedisTarget,
  schema: KeySchema,
  s: VerifySettings & { afterCleanup?: boolean | undefined },
): ProcessBatch {
  // A new key is a suspect unless its old key names its workspace.
  const suspectsAmong = async (pairs: Owned[]): Promise<(Divergence | undefined)[]> => {
    // Pipelined HGETs on the direct connections (the workspaceOf script where none opens).
    const ws = await directWorkspacesOf(
      target,
      pairs.map((p) => p.oldKey),
      (keys) => workspacesOf(target, keys),
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
            // -2: no old key at all (as PTTL says), else it names another workspace.
            oldTtlMs: ws[i] ? 0 : -2,
            newTtlMs: -2,
          },
    );
  };
  const ownerOf = (d: Divergence): Owned => ({
    newKey: d.newKey,
    oldKey: d.oldKey,
    workspaceId: oldKeyOf(schema, d.newKey)!.workspaceId,
  });
  /** The job records among suspects (foreign ones counted, vanished ones dropped). */
  const jobsAmong = async (out: BatchOutcome, suspects: Divergence[]): Promise<Divergence[]> => {
    if (suspects.length === 0) return [];
    const shapes = await shapesOf(target, schema, suspects.map(ownerOf));
    return suspects.filter((d, i) => {
      const shape = shapes[i]!;
      if (shape === "none") add(out, "vanished");
      else if (shape !== "job") foreign(out, d.newKey, shape);
      else return true;
      return false;
    });
  };
  return async (keys, ctx) => {
    const out: BatchOutcome = { counts: {}, findings: [] };
    const pairs: Owned[] = [];
    for (const newKey of keys) {
      const owner = oldKeyOf(schema, newKey);
      if (!owner) foreign(out, newKey, "name_not_a_job_key");
      else if (!inSample(owner.oldKey, s.sampleFraction)) add(out, "outOfSample");
      else if (
        s.compare.workspaces &&
        !s.compare.workspaces.has(owner.workspaceId.toString("latin1"))
      )
        add(out, "outOfScope");
      else pairs.push({ newKey, ...owner });
    }
    add(out, "newChecked", pairs.length);
    const found = (await suspectsAmong(pairs)).filter((d): d is Divergence => d !== undefined);
    let suspects = await jobsAmong(out, found);
    if (s.afterCleanup) {
      // No old key at all: cleanup deleted it (proven equal first), or the application
      // created the job after old-schema writes stopped. Either way, as it should be.
      add(out, "newOnly", suspects.filter((d) => d.oldTtlMs === -2).length);
      suspects = suspects.filter((d) => d.oldTtlMs !== -2);
    }
    if (suspects.length === 0) return out;
    ctx.parked(); // re-checks mostly wait: let the walk go on meanwhile
    const decided = await recheck(suspects, s.recheck, async (ds) => {
      const again = await suspectsAmong(ds.map(ownerOf));
      // A suspect that turned out foreign or gone on a re-read is no orphan any more.
      const still = again.filter((d): d is Divergence => d !== undefined);
      const shapes = still.length ? await shapesOf(target, schema, still.map(ownerOf)) : [];
      const jobs = new Set(still.filter((_, i) => shapes[i] === "job").map((d) => d.newKey));
      return again.map((d) =>
        d && jobs.has(d.newKey) && !(s.afterCleanup && d.oldTtlMs === -2) ? d : undefined,
      );
    });
    await settleDivergences(target, s, out, decided);
    add(out, "orphans", decided.confirmed.length);
    return out;
  };
}
