import { hostname } from "node:os";
import type { RedisTarget } from "../redis/target.js";
import { deadHolderHere, describeOwner, type LockOwner } from "./runLock.js";
import { globPrefix, scanStep } from "./scanNode.js";
import { sleep } from "./time.js";

export interface LockInfo {
  /** The run's scope, e.g. "backfill", "verify:workspaces=ws-1". */
  scope: string;
  key: string;
  owner: LockOwner | undefined;
  ttlMs: number;
}

/** Every run lock under the state prefix, on every master. */
export async function findLocks(target: RedisTarget, statePrefix: string): Promise<LockInfo[]> {
  const out: LockInfo[] = [];
  for (const node of await target.masters()) {
    let cursor = "0";
    do {
      const step = await scanStep(node.client, cursor, { match: globPrefix(statePrefix) }, 1000);
      for (const k of step.keys) {
        const key = k.toString();
        if (!key.endsWith(":lock")) continue;
        const [raw, ttl] = await Promise.all([target.client.get(key), target.client.pttl(key)]);
        let owner: LockOwner | undefined;
        try {
          owner = raw ? (JSON.parse(raw) as LockOwner) : undefined;
        } catch {
          owner = undefined;
        }
        out.push({ scope: key.slice(statePrefix.length, -":lock".length), key, owner, ttlMs: ttl });
      }
      cursor = step.cursor;
    } while (cursor !== "0");
  }
  return out.sort((a, b) => a.scope.localeCompare(b.scope));
}

/** What a listing can tell of a lock's holder without waiting. */
export function holderState(owner: LockOwner | undefined): string {
  if (!owner || owner.host !== hostname()) return "holder on another host";
  return deadHolderHere(owner) ?? "alive";
}

/**
 * The stale-lock rule, beside the takeover logic of RunLock: why the holder of `lock` is
 * alive, or undefined when it is provably dead. On this host its pid answers; on another
 * host a live holder renews its lock every third of its TTL, so the lock is watched for
 * longer than that: without a renewal its TTL drops by exactly the time waited.
 */
export async function whyHolderAlive(
  target: RedisTarget,
  lock: LockInfo,
): Promise<string | undefined> {
  const owner = lock.owner;
  if (owner && owner.host === hostname())
    return deadHolderHere(owner) ? undefined : `the holder is alive (${describeOwner(owner)})`;
  const before = await target.client.pttl(lock.key);
  const t0 = Date.now();
  await sleep(Math.min(Math.max(before, 0) / 3 + 1000, 25_000));
  const after = await target.client.pttl(lock.key);
  if (after > before - (Date.now() - t0) + 200)
    return `the lock's heartbeat is alive (renewed while watched): ${owner ? describeOwner(owner) : lock.key}`;
  return undefined;
}
