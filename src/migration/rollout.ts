import { topologyChangesSince } from "../engine/savedTopology.js";
import { Topology } from "../engine/topology.js";
import type { RedisTarget } from "../redis/target.js";
import { keyCounts, type KeyCounts } from "./keyCounts.js";
import type { KeySchema } from "./keySchema.js";
import { runStatus, type RunStatus } from "./runStatus.js";

export type Phase =
  | "not started"
  | "dual-write"
  | "backfilled"
  | "verified"
  | "read flipped"
  | "cleaning up"
  | "done"
  | "rolled back";

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

export interface RolloutState {
  flag: FlagValues;
  phase: Phase;
  runs: Record<"backfill" | "verify" | "cleanup" | "reverse", RunStatus>;
  keys: KeyCounts;
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
const time = (iso: string | undefined): number => (iso ? Date.parse(iso) : 0);

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
  const [backfill, verify, cleanup, reverse, cleanupNew, keys] = await Promise.all([
    runStatus(client, i.statePrefix, "backfill"),
    runStatus(client, i.statePrefix, "verify"),
    runStatus(client, i.statePrefix, "cleanup"),
    runStatus(client, i.statePrefix, "backfill-reverse"),
    runStatus(client, i.statePrefix, "cleanup-new"),
    keyCounts(target, i.schema, i.exactCounts),
  ]);
  const audit = i.flagKey
    ? (await client.lrange(`${i.flagKey}:audit`, 0, 9)).map((s) => JSON.parse(s) as AuditEntry)
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
    keys.old - keys.partialOld <= 0 &&
    keys.partialOld === 0 &&
    !cleanup.current
  )
    phase = "done";
  else if (cleanupBegan) phase = "cleaning up";
  else if (verifiedFresh && flag.on) phase = "read flipped";
  else if (verifiedFresh) phase = "verified";
  else if (backfill.last) phase = "backfilled";
  else if (keys.new > 0 || backfill.current) phase = "dual-write";
  else phase = "not started";
  return { flag, phase, runs, keys, next: nextStep(phase, runs, keys, flag, verifiedFresh), audit };
}

/** Counts of the old keys a cleanup keeps on purpose: it cannot prove them safe to delete. */
const KEPT = [
  "unmigratable",
  "differs",
  "newMissing",
  "newWrongType",
  "changedSinceCompared",
  "keptMovedAsideExists",
];

/** How many old keys the last completed cleanup kept on purpose (0: none, or none done). */
function keptByCleanup(cleanup: RunStatus): number {
  if (cleanup.current || !cleanup.last) return 0;
  return KEPT.reduce((n, k) => n + (cleanup.last!.counts[k] ?? 0), 0);
}

function nextStep(
  phase: Phase,
  runs: RolloutState["runs"],
  keys: KeyCounts,
  flag: FlagValues,
  verifiedFresh: boolean,
): RolloutState["next"] {
  const reasons: string[] = [];
  const busy = Object.entries(runs)
    .filter(([, r]) => r.current?.state === "running")
    .map(([n]) => `a ${n} run is in progress`);
  const stale = Object.entries(runs)
    .filter(([, r]) => r.current?.state === "stale")
    .map(([n]) => `a ${n} run died (stale checkpoint): run it again to finish`);
  reasons.push(...busy, ...stale);
  if (flag.disagree)
    reasons.push(`the flag disagrees: environment ${flag.env}, Redis ${flag.redis}`);
  const step = (s: string, ...extra: (string | false)[]) => {
    const r = [...reasons, ...extra.filter((e): e is string => Boolean(e))];
    return { step: s, safe: r.length === 0, reasons: r };
  };
  switch (phase) {
    case "not started":
      return step(
        "turn on dual-write (AI_JOBS_NEW_SCHEMA=on on every writer), then run `jobs-migrate backfill`",
      );
    case "dual-write":
      return step(
        "run `jobs-migrate backfill`",
        flag.on === false && "the flag is off: the application is not dual-writing",
      );
    case "backfilled":
      return step(
        "run `jobs-migrate verify`",
        runs.backfill.last?.clean === false &&
          "the last backfill found unmigratable or unstable keys",
      );
    case "verified":
      return step(
        "flip reads to the new keys (AI_JOBS_NEW_SCHEMA=on for readers)",
        keys.partialOld > 0 && `${keys.partialOld} partial old hashes exist`,
      );
    case "read flipped":
      return step(
        "stop old-schema writes, then run `jobs-migrate cleanup --execute`",
        !verifiedFresh && "no recent clean verify",
        keys.partialOld > 0 && `${keys.partialOld} partial old hashes: old writes look still on`,
      );
    case "cleaning up": {
      const partial =
        keys.partialOld > 0 && `${keys.partialOld} partial old hashes: old writes look still on`;
      const kept = keptByCleanup(runs.cleanup);
      // Running cleanup again would keep them again: they need a person.
      if (kept > 0)
        return step(
          `the last cleanup kept ${kept} old key(s) it cannot prove safe to delete (unmigratable, or not equal to their new key: \`jobs-migrate verify\` lists them): fix or remove them, then run \`jobs-migrate cleanup --execute\` again`,
          partial,
        );
      return step("finish `jobs-migrate cleanup --execute`", partial);
    }
    case "done":
      return step("nothing left: the migration is complete");
    case "rolled back":
      return step("inspect `jobs-migrate verify`; restart the rollout from dual-write when ready");
  }
}

export type Gate = "backfilled" | "verified" | "ready-for-read-flip" | "ready-for-cleanup" | "done";
export const GATES: Gate[] = [
  "backfilled",
  "verified",
  "ready-for-read-flip",
  "ready-for-cleanup",
  "done",
];

/** The reasons a gate is not met (empty: met). */
export function unmetReasons(
  gate: Gate,
  s: RolloutState,
  maxAgeMs: number,
  now = new Date(),
): string[] {
  const r: string[] = [];
  const age = (iso: string | undefined) => now.getTime() - time(iso);
  const { backfill, verify } = s.runs;
  const needBackfill = () => {
    if (!backfill.last) r.push("no completed backfill");
    else if (backfill.last.clean === false)
      r.push("the last backfill found unmigratable or unstable keys");
  };
  const needVerify = () => {
    if (!verify.last) r.push("no completed verify of the whole keyspace");
    else if (!verify.last.clean) r.push(`the last verify (run ${verify.last.runId}) was not clean`);
    else if (age(verify.last.finishedAt) > maxAgeMs)
      r.push(
        `the last clean verify is older than --max-age (${Math.round(age(verify.last.finishedAt) / 60000)} min)`,
      );
    else if (time(verify.last.finishedAt) < time(backfill.last?.finishedAt))
      r.push("the last verify finished before the last backfill");
  };
  const notBusy = () => {
    for (const [n, st] of Object.entries(s.runs))
      if (st.current?.state === "running") r.push(`a ${n} run is in progress`);
  };
  if (gate === "backfilled") needBackfill();
  if (gate === "verified") {
    needBackfill();
    needVerify();
  }
  if (gate === "ready-for-read-flip") {
    needBackfill();
    needVerify();
    notBusy();
    if (s.flag.disagree) r.push("the flag disagrees between environment and Redis");
  }
  if (gate === "ready-for-cleanup") {
    needVerify();
    notBusy();
    if (s.flag.on !== true) r.push("the flag is not on (reads must use the new keys)");
    if (s.flag.disagree) r.push("the flag disagrees between environment and Redis");
    if (s.keys.partialOld > 0)
      r.push(
        `${s.keys.partialOld} partial old hashes${s.keys.exact ? "" : " (estimated)"}: old-schema writes look still on`,
      );
  }
  if (gate === "done" && s.phase !== "done") r.push(`the phase is "${s.phase}", not "done"`);
  return r;
}
