import type { Cluster } from "ioredis";
import type { BatchOutcome, ProcessBatch } from "../engine/runScan.js";
import { sleep } from "../engine/time.js";
import { fromFlat, sameHash, toFlat, type HashBytes } from "./hashFields.js";
import { displayBytes, mapOldKey, type KeySchema } from "./keySchema.js";
import { tally } from "./copyAtomic.js";

/** Rounds of re-read and repair before a pair is called unstable. */
const MAX_ROUNDS = 8;

type PairResult = "created" | "present" | "repaired" | "unstable" | "vanished";

async function readHash(cluster: Cluster, key: Buffer): Promise<HashBytes> {
  const h = await cluster.hgetallBuffer(key);
  return new Map(Object.entries(h));
}

/**
 * Make the new key equal the old one, where no single script can see both (Cluster:
 * different slots). Re-reads both after our last write and repairs with a
 * compare-and-set until they agree. Why it converges to the old key's state: an
 * application update either missed the new key (its EXISTS ran before our create, so its
 * write to the old key precedes our re-read and is picked up) or reaches both keys
 * itself; and our repair only lands if the new key still holds what we compared.
 */
async function confirmPair(
  cluster: Cluster,
  oldKey: Buffer,
  newKey: Buffer,
): Promise<PairResult | "equal"> {
  let repaired = false;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const [o, n] = await Promise.all([readHash(cluster, oldKey), readHash(cluster, newKey)]);
    if (o.size === 0) return "vanished";
    if (n.size === 0) return "unstable";
    if (sameHash(o, n)) return repaired ? "repaired" : "equal";
    const r = await cluster.replaceIfUnchanged(newKey, n.size, ...toFlat(n), ...toFlat(o));
    if (r === 1) repaired = true;
    else await sleep(2 ** round);
  }
  return "unstable";
}

async function copyOne(
  cluster: Cluster,
  schema: KeySchema,
  oldKey: Buffer,
  recheck: boolean,
  out: BatchOutcome,
): Promise<void> {
  const snap = (await cluster.snapshotHashBuffer(oldKey)) as unknown as (Buffer | number)[];
  const type = String(snap[0]);
  if (type === "none") return tally(out, oldKey, "vanished");
  if (type !== "hash") return tally(out, oldKey, "not_a_hash");
  const fields = fromFlat(snap.slice(2) as Buffer[]);
  const m = mapOldKey(schema, oldKey, fields.get("workspace_id"), fields.get("job_id"));
  if (!m.ok) return tally(out, oldKey, m.reason);
  const created =
    (await cluster.createIfAbsent(m.newKey, Number(snap[1]), ...toFlat(fields))) === 1;
  // A new key we did not create was written by the application's dual-write, which
  // keeps it current; only one we created, or one a killed run may have left half
  // confirmed, needs the confirm step.
  if (!created && !recheck) return tally(out, oldKey, "alreadyPresent");
  const confirmed = await confirmPair(cluster, oldKey, m.newKey);
  tally(out, oldKey, created ? "copied" : "alreadyPresent");
  if (confirmed === "repaired") out.counts.repaired = (out.counts.repaired ?? 0) + 1;
  if (confirmed === "unstable") {
    out.counts.unstable = (out.counts.unstable ?? 0) + 1;
    out.findings.push({
      key: displayBytes(oldKey),
      reason: "unstable",
      detail: `new key ${displayBytes(m.newKey)} kept changing; run verify`,
    });
  }
  if (confirmed === "vanished") {
    out.counts.vanishedAfterCopy = (out.counts.vanishedAfterCopy ?? 0) + 1;
    out.findings.push({
      key: displayBytes(oldKey),
      reason: "vanished_after_copy",
      detail: `the application deleted it; ${displayBytes(m.newKey)} remains`,
    });
  }
}

/** Backfill on a Cluster: copy-then-confirm for every key of the batch, concurrently. */
export function copyConfirm(cluster: Cluster, schema: KeySchema): ProcessBatch {
  return async (keys, { recheck }) => {
    const out: BatchOutcome = { counts: {}, findings: [] };
    await Promise.all(keys.map((k) => copyOne(cluster, schema, k, recheck, out)));
    return out;
  };
}
