import type { Cluster } from "ioredis";
import { sleep } from "../../engine/time.js";
import { sameHash, toFlat, type HashBytes } from "./hashFields.js";

/** Rounds of re-read and repair before a pair is called unstable. */
const MAX_ROUNDS = 8;

async function readHash(cluster: Cluster, key: Buffer): Promise<HashBytes> {
  return new Map(Object.entries(await cluster.hgetallBuffer(key)));
}

/**
 * Make the new key equal the old one, where no single script can see both (Cluster:
 * different slots). Re-reads both after our last write and repairs with a
 * compare-and-set until they agree. Why it converges to the old key's state: an
 * application update either missed the new key (its EXISTS ran before our create, so its
 * write to the old key precedes our re-read and is picked up) or reaches both keys
 * itself; and our repair only lands if the new key still holds what we compared.
 */
export async function confirmPair(
  cluster: Cluster,
  oldKey: Buffer,
  newKey: Buffer,
): Promise<"equal" | "repaired" | "unstable" | "vanished"> {
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
