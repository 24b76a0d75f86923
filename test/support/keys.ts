import { Cluster, type Redis } from "ioredis";
import type { RedisClient } from "./targets.js";

/** Every key starting with `prefix`, from every master (tests only: a full SCAN). */
export async function keysUnder(client: RedisClient, prefix: string): Promise<string[]> {
  const nodes: Redis[] = client instanceof Cluster ? client.nodes("master") : [client];
  const out: string[] = [];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      out.push(...keys);
      cursor = next;
    } while (cursor !== "0");
  }
  return [...new Set(out)].sort();
}

/** A key's exact state (serialized value and TTL) to prove it was not changed. */
export async function snapshotKeys(
  client: RedisClient,
  keys: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of keys) {
    const dump = await client.dumpBuffer(key);
    // The absolute expiry time, unlike PTTL, does not drift between two snapshots.
    const expireAt = await client.call("PEXPIRETIME", key);
    out.set(key, `${dump?.toString("hex") ?? "none"}|${String(expireAt)}`);
  }
  return out;
}

/** Everything under a prefix, as snapshotKeys sees it. */
export async function snapshotPrefix(
  client: RedisClient,
  prefix: string,
): Promise<Map<string, string>> {
  return snapshotKeys(client, await keysUnder(client, prefix));
}
