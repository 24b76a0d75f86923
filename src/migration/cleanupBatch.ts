import type { Redis } from "ioredis";
import { GuardRefusedError } from "../errors.js";
import type { BatchOutcome, ProcessBatch } from "../engine/runSpec.js";
import type { RedisTarget } from "../redis/target.js";
import { toArchiveRecord, type ArchiveRecord } from "./archive.js";
import { tally } from "./copyAtomic.js";
import { sameHash } from "./hashFields.js";
import { displayBytes, mapOldKey, type KeySchema, type Unmigratable } from "./keySchema.js";
import { dumpJobs, type JobDump } from "./snapshots.js";
import type { Tombstones } from "./tombstones.js";
import { readStates } from "./verifyCompare.js";
import { add } from "./verifyPairs.js";

export interface CleanupSettings {
  schema: KeySchema;
  /** Which key of a proven-equal pair to delete: "old" (cleanup), "new" (abort). */
  side: "old" | "new";
  execute: boolean;
  /** Called with each hash before it is deleted (the --archive file). */
  archive?: ((record: ArchiveRecord) => Promise<void>) | undefined;
  /** Where deleted old keys are recorded for a rollback. */
  tombstones: Tombstones;
}

const OUTCOME: Record<string, string> = {
  D: "deleted",
  C: "changedSinceCompared",
  N: "newMissing",
  Y: "newWrongType",
  X: "differs",
  V: "vanished",
};
const UNMIGRATABLE: Record<string, Unmigratable> = {
  T: "not_a_hash",
  W: "missing_workspace_id",
  I: "invalid_workspace_id",
  M: "job_id_mismatch",
  J: "missing_job_id",
};

export function oldWritesOn(key: Buffer, how: string): GuardRefusedError {
  return new GuardRefusedError(
    `the application's old-schema writes are still on: ${displayBytes(key)} ${how}; ` +
      `stop writing old keys (update_status must write only the new key), then run cleanup again; ` +
      `to roll back instead, see runbooks/rollback.md (backfill --reverse)`,
  );
}

/** Count one key's code; the caller decides what to do about partial old hashes. */
function count(out: BatchOutcome, key: Buffer, code: string, execute: boolean): void {
  if (code === "D") return add(out, execute ? "deleted" : "wouldDelete");
  const reason = UNMIGRATABLE[code];
  if (reason) return tally(out, key, reason);
  add(out, OUTCOME[code] ?? "unknown");
  if (code === "X" || code === "N" || code === "Y" || code === "C")
    out.findings.push({ key: displayBytes(key), reason: `kept: ${OUTCOME[code]}` });
}

/** A deleted key is checked again at the next batch, and once more after this long. */
const SECOND_LOOK_MS = 1000;

/**
 * Old keys cleanup deleted, checked twice (before the next batch, and again a second or
 * more later) with one script call per node: one that exists again was re-created by
 * update_status, so the application's old-schema writes are still on.
 */
export class RecreationWatch {
  private fresh: Buffer[] = [];
  private aging: { at: number; keys: Buffer[] }[] = [];
  constructor(private readonly target: RedisTarget) {}

  remember(keys: Buffer[]): void {
    this.fresh.push(...keys);
  }

  /** Check what is due; `all` (at the end of a run) checks everything still watched. */
  async check(all = false): Promise<void> {
    const now = Date.now();
    const due = this.fresh;
    this.aging.push({ at: now, keys: due });
    this.fresh = [];
    const old = this.aging.filter((e) => all || now - e.at >= SECOND_LOOK_MS);
    this.aging = all ? [] : this.aging.filter((e) => now - e.at < SECOND_LOOK_MS);
    const keys = [...due, ...old.flatMap((e) => (e.keys === due ? [] : e.keys))];
    if (keys.length === 0) return;
    await Promise.all(
      [...this.target.groupByNode(keys)].map(async ([node, idx]) => {
        const first = await node.countExisting(...idx.map((i) => keys[i]!));
        if (first > 0)
          throw oldWritesOn(keys[idx[first - 1]!]!, "was re-created after cleanup deleted it");
      }),
    );
  }
}

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
  for (let i = 0; i < victims.length; i++) {
    const st = states[i]!;
    if (st.type === "hash")
      await s.archive(
        toArchiveRecord(victims[i]!.key, st.fields, st.pttl, displayBytes(victims[i]!.key)),
      );
  }
}

/** Single instance: compareAndDelete-n.lua proves and deletes in one atomic step. */
export function cleanupAtomic(
  target: RedisTarget,
  s: CleanupSettings,
  watch: RecreationWatch,
): ProcessBatch {
  const client = target.client as Redis;
  const run = (keys: Buffer[], execute: boolean, expected: Buffer[] = []) =>
    client.compareAndDelete(
      keys.length,
      ...keys,
      s.schema.oldPrefix,
      s.schema.newPrefix,
      s.side,
      execute ? "1" : "0",
      s.tombstones.singleKey,
      ...expected,
    );
  return async (keys) => {
    // The watch and the batch's own script go out together (one round trip). If the
    // watch then finds a re-created key, this batch's deletions were still each proven
    // at their instant: stopping right after them loses nothing.
    const watching = watch.check();
    watching.catch(() => undefined);
    const out: BatchOutcome = { counts: {}, findings: [] };
    let codes = "";
    let proven = keys;
    if (s.execute && s.archive) {
      // Archive first, then delete only what is still exactly what was archived.
      const dry = await run(keys, false);
      proven = keys.filter((_, i) => dry[i] === "D");
      const dumps = await dumpJobs(client, proven);
      const victims = proven.map((oldKey, i) => {
        if (s.side === "old") return { key: oldKey, dump: dumps[i]!.dump! };
        const m = mapOldKey(s.schema, oldKey, dumps[i]!.workspaceId, dumps[i]!.jobId);
        return { key: m.ok ? m.newKey : oldKey, dump: Buffer.alloc(0) };
      });
      if (s.side === "new") {
        const newDumps = await dumpJobs(
          client,
          victims.map((v) => v.key),
        );
        victims.forEach((v, i) => (v.dump = newDumps[i]!.dump ?? Buffer.alloc(0)));
      }
      await archiveVictims(target, s, victims);
      const done = proven.length
        ? await run(
            proven,
            true,
            victims.map((v) => v.dump),
          )
        : "";
      let j = 0;
      codes = dry
        .split("")
        .map((c) => (c === "D" ? done[j++]! : c))
        .join("");
    } else {
      codes = await run(keys, s.execute);
    }
    await watching;
    const deleted: Buffer[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (codes[i] === "P")
        throw oldWritesOn(keys[i]!, "is a partial hash re-created by update_status");
      count(out, keys[i]!, codes[i]!, s.execute);
      if (codes[i] === "D" && s.execute && s.side === "old") deleted.push(keys[i]!);
    }
    watch.remember(deleted);
    return out;
  };
}

async function dumpsByNode(target: RedisTarget, keys: Buffer[]): Promise<JobDump[]> {
  const out = new Array<JobDump>(keys.length);
  await Promise.all(
    [...target.groupByNode(keys)].map(async ([n, idx]) =>
      (
        await dumpJobs(
          n,
          idx.map((i) => keys[i]!),
        )
      ).forEach((d, j) => (out[idx[j]!] = d)),
    ),
  );
  return out;
}

/**
 * Cluster: the pair's keys live in different slots. Compare (DUMPs first, fields when the
 * DUMPs differ), then delete with deleteIfUnchanged-0.lua, which removes a key only if it
 * still DUMPs as it did before the comparison.
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
    const pairs: { oldKey: Buffer; newKey: Buffer; old: JobDump }[] = [];
    keys.forEach((oldKey, i) => {
      const o = olds[i]!;
      if (o.type === "none") return count(out, oldKey, "V", s.execute);
      if (o.type !== "hash") return count(out, oldKey, "T", s.execute);
      const m = mapOldKey(s.schema, oldKey, o.workspaceId, o.jobId);
      if (!m.ok) return tally(out, oldKey, m.reason);
      pairs.push({ oldKey, newKey: m.newKey, old: o });
    });
    const news = await dumpsByNode(
      target,
      pairs.map((p) => p.newKey),
    );
    const unsure = pairs.filter(
      (p, i) => news[i]!.type === "hash" && !news[i]!.dump!.equals(p.old.dump!),
    );
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
    const differs = new Set(
      unsure.filter((_, j) => !sameHash(oldStates[j]!.fields, newStates[j]!.fields)),
    );
    const victims: { key: Buffer; dump: Buffer; oldKey: Buffer }[] = [];
    pairs.forEach((p, i) => {
      const n = news[i]!;
      if (n.type === "none") return count(out, p.oldKey, "N", s.execute);
      if (n.type !== "hash") return count(out, p.oldKey, "Y", s.execute);
      if (differs.has(p)) return count(out, p.oldKey, "X", s.execute);
      victims.push(
        s.side === "old"
          ? { key: p.oldKey, dump: p.old.dump!, oldKey: p.oldKey }
          : { key: p.newKey, dump: n.dump!, oldKey: p.oldKey },
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
        const codes = await n.deleteIfUnchanged(
          vs.length,
          ...vs.map((v) => v.key),
          ...vs.map((v) => v.dump),
        );
        vs.forEach((v, j) => {
          count(out, v.oldKey, codes[j]!, true);
          if (codes[j] === "D" && s.side === "old") deleted.push(v.key);
        });
      }),
    );
    watch.remember(deleted);
    return out;
  };
}
