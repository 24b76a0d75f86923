import { topologyChangesSince } from "../../engine/savedTopology.js";
import { Topology } from "../../engine/topology.js";
import type { RedisTarget } from "../../redis/target.js";
import { leftoverStatus, type LeftoverStatus } from "../shared/baseline.js";
import { keptByCleanup, nextStep, time } from "./gates.js";
import { keyCounts, type KeyCounts } from "./keyCounts.js";
import type { KeySchema } from "../shared/keySchema.js";
import { runStatus, type RunStatus } from "../shared/runStatus.js";

export { GATES, nextStep, unmetReasons, type Gate } from "./gates.js";

export const PHASES = [
  "not started",
  "dual-write",
  "backfilled",
  "verified",
  "read flipped",
  "cleaning up",
  "done",
  "rolled back",
] as const;
export type Phase = (typeof PHASES)[number];

export interface FlagValues {
  env: string | undefined;
  redis: string | undefined;
  flagKey: string | undefined;
  /** Both are set and say different things. */
  disagree: boolean;
  /** The effective value: env when set, else Redis, else undefined. */
  on: boolean | undefined;
}

export interface AuditEntry {
  at: string;
  who: string;
  reason: string;
  previous: string | null;
  value: string;
}

/** Where `flag set` keeps its audit trail: beside the flag. */
export const flagAuditKey = (flagKey: string): string => `${flagKey}:audit`;

/**
 * Switch the flag kept in Redis (SET … GET: the previous value comes back with the same
 * command that replaces it) and append the audit entry `flag` shows.
 */
export async function setFlag(
  client: RedisTarget["client"],
  flagKey: string,
  value: "on" | "off",
  who: string,
  reason: string,
): Promise<AuditEntry> {
  const previous = (await client.call("SET", flagKey, value, "GET")) as string | null;
  const entry: AuditEntry = { at: new Date().toISOString(), who, reason, previous, value };
  await client.lpush(flagAuditKey(flagKey), JSON.stringify(entry));
  await client.ltrim(flagAuditKey(flagKey), 0, 999);
  return entry;
}

export interface RolloutState {
  flag: FlagValues;
  phase: Phase;
  runs: Record<"backfill" | "verify" | "cleanup" | "reverse", RunStatus>;
  keys: KeyCounts;
  /** Unmigratable and foreign keys the last full verify found, and which are accepted. */
  leftovers: LeftoverStatus;
  next: { step: string; safe: boolean; reasons: string[] };
  audit: AuditEntry[];
}

export interface RolloutInput {
  schema: KeySchema;
  statePrefix: string;
  envFlag: string | undefined;
  flagKey: string | undefined;
  exactCounts: boolean;
  /** How old a verify may be and still count (gates and next step). */
  maxAgeMs: number;
  now?: Date;
}

const norm = (v: string | null | undefined): string | undefined =>
  v == null ? undefined : v.trim().toLowerCase();

export async function readRollout(target: RedisTarget, i: RolloutInput): Promise<RolloutState> {
  const client = target.client;
  const stored = i.flagKey ? norm(await client.get(i.flagKey)) : undefined;
  const env = norm(i.envFlag);
  const effective = env ?? stored;
  const flag: FlagValues = {
    env,
    redis: stored,
    flagKey: i.flagKey,
    disagree: env !== undefined && stored !== undefined && env !== stored,
    on: effective === undefined ? undefined : effective === "on",
  };
  const [backfill, verify, cleanup, reverse, cleanupNew, keys, leftovers] = await Promise.all([
    runStatus(client, i.statePrefix, "backfill"),
    runStatus(client, i.statePrefix, "verify"),
    runStatus(client, i.statePrefix, "cleanup"),
    runStatus(client, i.statePrefix, "backfill-reverse"),
    runStatus(client, i.statePrefix, "cleanup-new"),
    keyCounts(target, i.schema, i.exactCounts),
    leftoverStatus(client, i.statePrefix),
  ]);
  const audit = i.flagKey
    ? (await client.lrange(flagAuditKey(i.flagKey), 0, 9)).map((s) => JSON.parse(s) as AuditEntry)
    : [];
  const runs = { backfill, verify, cleanup, reverse };
  // A run to resume: say what its checkpoint was made on and what changed since.
  const unfinished = Object.values(runs).filter((r) => r.current !== undefined);
  if (unfinished.length > 0) {
    const view = await new Topology(target, 5000, () => undefined).read().catch(() => undefined);
    for (const r of unfinished)
      r.current!.topologyChanges = view && topologyChangesSince(r.current!.topology, view);
  }
  const now = (i.now ?? new Date()).getTime();
  const verifiedFresh =
    Boolean(verify.last?.clean) &&
    now - time(verify.last?.finishedAt) <= i.maxAgeMs &&
    time(verify.last?.finishedAt) >= time(backfill.last?.finishedAt);
  // Only --execute runs use the "cleanup" scope: any checkpoint there, even of a run that
  // was interrupted or stopped itself, means old keys may be gone.
  const cleanupBegan = Boolean(cleanup.last?.executed) || cleanup.current !== undefined;
  // cleanup --side new: the rollout was aborted before the read flip.
  const abortedBeforeFlip =
    Boolean(cleanupNew.last?.executed) &&
    time(cleanupNew.last?.finishedAt) > time(backfill.last?.finishedAt);
  let phase: Phase;
  if (reverse.last && time(reverse.last.finishedAt) > time(cleanup.last?.finishedAt))
    phase = "rolled back";
  else if (abortedBeforeFlip) phase = "rolled back";
  else if (cleanupBegan && flag.on === false) phase = "rolled back";
  else if (
    cleanupBegan &&
    // What may stay: the accepted unmigratable keys (cleanup never deletes those).
    keys.old - keys.partialOld <= leftovers.unmigratable - leftovers.unmigratableUnaccepted &&
    keys.partialOld === 0 &&
    keptByCleanup(cleanup) === 0 &&
    !cleanup.current
  )
    phase = "done";
  else if (cleanupBegan) phase = "cleaning up";
  else if (verifiedFresh && flag.on) phase = "read flipped";
  else if (verifiedFresh) phase = "verified";
  else if (backfill.last) phase = "backfilled";
  else if (keys.new > 0 || backfill.current) phase = "dual-write";
  else phase = "not started";
  const state = { flag, phase, runs, keys, leftovers, audit };
  return { ...state, next: nextStep(state, i.maxAgeMs, i.now) };
}
