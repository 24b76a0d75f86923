import type { Cluster, Redis } from "ioredis";
import type { RedisTarget } from "../../redis/target.js";
import { confirmPair } from "../shared/confirmPair.js";
import type { Divergence } from "../shared/pairDiff.js";
import { dumpJobs, restoreIfAbsent } from "../shared/snapshots.js";

/**
 * Make a confirmed divergent pair's new key equal its old key again, the old key being
 * the source of truth until cleanup, with the same race-safety as backfill: one atomic
 * script on a single instance; on a Cluster, create-if-absent then the compare-and-set
 * repair loop, then the TTL. Returns false when the pair would not settle.
 */
export async function repairDivergence(target: RedisTarget, d: Divergence): Promise<boolean> {
  // A new key of another type is not ours to overwrite: it is reported, not repaired.
  if (d.kinds.includes("new_wrong_type")) return false;
  if (!target.isCluster) {
    return (await (target.client as Redis).repairPair(d.oldKey, d.newKey)) >= 0;
  }
  const cluster = target.client as Cluster;
  if (d.kinds.includes("new_missing")) {
    const [snap] = await dumpJobs(target.nodeForKey(d.oldKey), [d.oldKey]);
    if (!snap?.dump) return false;
    await restoreIfAbsent(target.nodeForKey(d.newKey), [{ newKey: d.newKey, snap }]);
  }
  const settled = await confirmPair(cluster, d.oldKey, d.newKey);
  if (settled === "unstable" || settled === "vanished") return false;
  const pttl = await cluster.pttl(d.oldKey);
  if (pttl > 0) await cluster.pexpire(d.newKey, pttl);
  else if (pttl === -1) await cluster.persist(d.newKey);
  return true;
}
