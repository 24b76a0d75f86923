import type { Cluster } from "ioredis";
import type { BatchOutcome, ProcessBatch } from "../../engine/runScan.js";
import type { RedisTarget } from "../../redis/target.js";
import { COPIED_WHOLE } from "./copyAtomic.js";
import { tally } from "../shared/outcomes.js";
import { confirmPair } from "../shared/confirmPair.js";
import { displayBytes, mapOldKey, type KeySchema } from "../shared/keySchema.js";
import { listOversized, oversizedAmong } from "../shared/oversized.js";
import { dumpJobs, restoreIfAbsent, unchangedSince, type JobDump } from "../shared/snapshots.js";

interface Pair {
  oldKey: Buffer;
  newKey: Buffer;
  snap: JobDump;
  created: boolean;
}

async function settle(cluster: Cluster, p: Pair, out: BatchOutcome): Promise<void> {
  const confirmed = await confirmPair(cluster, p.oldKey, p.newKey);
  if (confirmed === "repaired") out.counts.repaired = (out.counts.repaired ?? 0) + 1;
  if (confirmed === "unstable") {
    out.counts.unstable = (out.counts.unstable ?? 0) + 1;
    out.findings.push({
      key: displayBytes(p.oldKey),
      reason: "unstable",
      detail: `new key ${displayBytes(p.newKey)} kept changing; run verify`,
    });
  }
  if (confirmed === "vanished") {
    out.counts.vanishedAfterCopy = (out.counts.vanishedAfterCopy ?? 0) + 1;
    out.findings.push({
      key: displayBytes(p.oldKey),
      reason: "vanished_after_copy",
      detail: `the application deleted it; ${displayBytes(p.newKey)} remains`,
    });
  }
}

/**
 * Backfill on a Cluster, copy-then-confirm, in a few script calls per batch: DUMP the
 * batch's old keys on their node, RESTORE the absent new keys (one call per node owning
 * some), then ask the old node whether each old key still DUMPs the same. A pair whose
 * old key is unchanged since the snapshot its new key was restored from is confirmed:
 * an update that missed the new key would have changed the old one. Any other goes
 * through the full re-read-and-repair loop.
 */
export function copyConfirm(target: RedisTarget, schema: KeySchema): ProcessBatch {
  const cluster = target.client as Cluster;
  return async (keys, { node, recheck }) => {
    const out: BatchOutcome = { counts: {}, findings: [] };
    // DUMP and RESTORE take a key only whole: a call made long by a huge key lists it.
    const slowOld: Buffer[] = [];
    const slowNew = new Set<string>();
    const snaps = await dumpJobs(node.client, keys, (ks) => slowOld.push(...ks));
    const pairs: Pair[] = [];
    keys.forEach((oldKey, i) => {
      const snap = snaps[i]!;
      if (snap.type === "none") return tally(out, oldKey, "vanished");
      if (snap.type !== "hash" || !snap.dump) return tally(out, oldKey, "not_a_hash");
      const m = mapOldKey(schema, oldKey, snap.workspaceId, snap.jobId, snap.hasStatus);
      if (!m.ok) return tally(out, oldKey, m.reason);
      pairs.push({ oldKey, newKey: m.newKey, snap, created: false });
    });
    await Promise.all(
      [...target.groupByNode(pairs.map((p) => p.newKey))].map(async ([owner, idx]) => {
        const group = idx.map((i) => pairs[i]!);
        const created = await restoreIfAbsent(owner, group, (ks) =>
          ks.forEach((k) => slowNew.add(k.toString("latin1"))),
        );
        group.forEach((p, j) => (p.created = created[j]!));
      }),
    );
    for (const p of pairs) tally(out, p.oldKey, p.created ? "copied" : "alreadyPresent");
    // A new key we did not create was written by the application's dual-write, which
    // keeps it current; only ours, or any in a batch a killed run may have left half
    // confirmed, need confirming.
    const created = pairs.filter((p) => p.created);
    const unchanged = created.length > 0 ? await unchangedSince(node.client, created) : [];
    const toSettle = [
      ...created.filter((_, j) => !unchanged[j]),
      ...(recheck ? pairs.filter((p) => !p.created) : []),
    ];
    await Promise.all(toSettle.map((p) => settle(cluster, p, out)));
    // A huge job is listed once, by its old key (on this node, the size of its copy),
    // whichever of its two commands was long.
    const restoredSlow = pairs.filter((p) => slowNew.has(p.newKey.toString("latin1")));
    const suspects = new Set([...slowOld, ...restoredSlow.map((p) => p.oldKey)]);
    if (suspects.size > 0)
      listOversized(out, await oversizedAmong(node.client, [...suspects]), COPIED_WHOLE);
    return out;
  };
}
