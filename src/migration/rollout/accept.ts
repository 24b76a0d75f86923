import { UsageError } from "../../errors.js";
import {
  baselineKeys,
  digestOf,
  parseMember,
  type AcceptedMeta,
  type LeftoverKind,
} from "../shared/baseline.js";
import type { RedisClient } from "../shared/redisClient.js";
import { runStatus } from "../shared/runStatus.js";

export interface Leftover {
  kind: LeftoverKind;
  reason: string;
  key: string;
}

async function members(client: RedisClient, key: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await client.sscan(key, cursor, "COUNT", 1000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return out.sort();
}

const countOf = (list: string[], kind: LeftoverKind) =>
  list.filter((m) => m.startsWith(`${kind} `)).length;

/** The leftovers of the last complete verify of the whole keyspace, and its run. */
export async function lastVerifyLeftovers(
  client: RedisClient,
  statePrefix: string,
): Promise<{ runId: string; finishedAt: string; leftovers: Leftover[]; accepted: Set<string> }> {
  const keys = baselineKeys(statePrefix);
  const raw = await client.get(keys.lastVerifyRun);
  const last = (await runStatus(client, statePrefix, "verify")).last;
  const run = raw ? (JSON.parse(raw) as { runId: string; finishedAt: string }) : undefined;
  if (!run || !last || last.runId !== run.runId)
    throw new UsageError(
      "no complete verify of the whole keyspace has recorded its leftovers yet: run `jobs-migrate verify` (no --workspace, no --sample) first",
    );
  const list = await members(client, keys.lastVerify);
  const accepted = new Set(await members(client, keys.accepted));
  return {
    ...run,
    leftovers: list.map(parseMember),
    accepted: new Set(list.filter((m) => accepted.has(m))),
  };
}

/**
 * Accept exactly the leftovers of the last complete verify (replacing any accepted set),
 * with who, when, why and a digest of the set; an entry in the audit trail.
 */
export async function acceptFromLastVerify(
  client: RedisClient,
  statePrefix: string,
  who: string,
  reason: string,
): Promise<AcceptedMeta> {
  const keys = baselineKeys(statePrefix);
  const { runId } = await lastVerifyLeftovers(client, statePrefix);
  // One slot (see baselineKeys): COPY takes the set as the verify left it, in one command.
  if (await client.exists(keys.lastVerify))
    await client.copy(keys.lastVerify, keys.accepted, "REPLACE");
  else await client.del(keys.accepted);
  const list = await members(client, keys.accepted);
  const meta: AcceptedMeta = {
    at: new Date().toISOString(),
    who,
    reason,
    fromRun: runId,
    count: list.length,
    unmigratable: countOf(list, "unmigratable"),
    foreign: countOf(list, "foreign"),
    digest: digestOf(list),
  };
  await client.set(keys.acceptedMeta, JSON.stringify(meta));
  await audit(client, statePrefix, { action: "accept", ...meta });
  return meta;
}

/** Forget the accepted set: every leftover fails exit statuses and gates again. */
export async function clearAccepted(
  client: RedisClient,
  statePrefix: string,
  who: string,
  reason: string,
): Promise<{ cleared: number }> {
  const keys = baselineKeys(statePrefix);
  const cleared = await client.scard(keys.accepted);
  await client.del(keys.accepted, keys.acceptedMeta);
  await audit(client, statePrefix, {
    action: "clear",
    at: new Date().toISOString(),
    who,
    reason,
    count: cleared,
  });
  return { cleared };
}

/** The accepted set with its record, and the audit trail (newest first). */
export async function listAccepted(
  client: RedisClient,
  statePrefix: string,
): Promise<{ meta: AcceptedMeta | undefined; accepted: Leftover[]; audit: unknown[] }> {
  const keys = baselineKeys(statePrefix);
  const raw = await client.get(keys.acceptedMeta);
  return {
    meta: raw ? (JSON.parse(raw) as AcceptedMeta) : undefined,
    accepted: (await members(client, keys.accepted)).map(parseMember),
    audit: (await client.lrange(keys.audit, 0, 99)).map((l) => JSON.parse(l) as unknown),
  };
}

async function audit(client: RedisClient, statePrefix: string, entry: object): Promise<void> {
  const { audit } = baselineKeys(statePrefix);
  await client.lpush(audit, JSON.stringify(entry));
  await client.ltrim(audit, 0, 999);
}
