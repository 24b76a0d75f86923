import type { RedisTarget } from "../redis/target.js";
import type { LockOwner } from "./runLock.js";
import { globPrefix, scanStep } from "./scanNode.js";

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
