import { stateKeys } from "../../engine/stateKeys.js";
import type { RedisClient } from "../shared/redisClient.js";

export interface GuardInput {
  client: RedisClient;
  statePrefix: string;
  side: "old" | "new";
  maxVerifyAgeMs: number;
  /** AI_JOBS_NEW_SCHEMA as this environment sets it (environment or .env). */
  envFlag: string | undefined;
  /** The Redis key where the team keeps the flag, if any. */
  flagKey: string | undefined;
  now?: Date;
}

/**
 * Why a destructive run must not go ahead, or undefined when it may: it needs a verify of
 * the whole keyspace, completed clean and recent, and the flag in the position that makes
 * the side being deleted unread (on: reads use the new keys, so old keys may go; off:
 * reads use the old keys, so new keys may go).
 */
export async function cleanupRefusal(g: GuardInput): Promise<string | undefined> {
  const raw = await g.client.get(stateKeys(g.statePrefix, "verify").lastResult);
  if (!raw)
    return "no completed verify of the whole keyspace was found (run `jobs-migrate verify` first)";
  const last = JSON.parse(raw) as {
    finishedAt?: string;
    clean?: boolean;
    runId?: string;
    counts?: Record<string, number>;
  };
  if (!last.clean)
    return `the last verify (run ${last.runId}) was not clean: ${last.counts?.confirmed ?? "?"} confirmed divergences`;
  const age = (g.now ?? new Date()).getTime() - Date.parse(last.finishedAt ?? "");
  if (!(age <= g.maxVerifyAgeMs)) {
    return `the last clean verify (run ${last.runId}) finished ${Math.round(age / 60000)} min ago, more than --max-verify-age allows`;
  }
  const want = g.side === "old" ? "on" : "off";
  const stored = g.flagKey ? await g.client.get(g.flagKey) : null;
  const values = [g.envFlag, stored ?? undefined]
    .filter((v): v is string => v !== undefined)
    .map((v) => v.toLowerCase());
  if (values.length === 0)
    return `the flag is unknown: set AI_JOBS_NEW_SCHEMA (environment or .env) or pass --flag-key`;
  if (values.some((v) => v !== want)) {
    return `AI_JOBS_NEW_SCHEMA must be ${want} to delete ${g.side} keys (environment: ${g.envFlag ?? "unset"}${g.flagKey ? `, Redis ${g.flagKey}: ${stored ?? "unset"}` : ""})`;
  }
  return undefined;
}
