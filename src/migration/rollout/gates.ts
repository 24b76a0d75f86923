import { unaccepted } from "../shared/baseline.js";
import type { RunStatus } from "../shared/runStatus.js";
import type { Phase, RolloutState } from "./rollout.js";

/**
 * What may be done now: the gates `flag --require` checks, and the next step `flag`
 * prints, safe exactly when the gate it needs is met (both from unmetReasons).
 */

/** Milliseconds of an ISO time; 0 when there is none. */
export const time = (iso: string | undefined): number => (iso ? Date.parse(iso) : 0);

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
export function keptByCleanup(cleanup: RunStatus): number {
  if (cleanup.current || !cleanup.last) return 0;
  const c = cleanup.last.counts;
  // Accepted unmigratable keys are kept on purpose, and need nobody.
  return KEPT.reduce((n, k) => n + (c[k] ?? 0), 0) - (c.unmigratableAccepted ?? 0);
}

/** The gate the next step of each phase needs; none where the step is always safe to take. */
const GATE_OF: Partial<Record<Phase, Gate>> = {
  backfilled: "backfilled",
  verified: "ready-for-read-flip",
  "read flipped": "ready-for-cleanup",
  "cleaning up": "ready-for-cleanup",
  done: "done",
};

/**
 * The next step and whether it is safe: safe exactly when the gate that step needs is met
 * (unmetReasons, the same function `flag --require` asks), so the two never disagree.
 */
export function nextStep(
  s: Omit<RolloutState, "next">,
  maxAgeMs: number,
  now?: Date,
): RolloutState["next"] {
  const { phase, runs, flag } = s;
  const gate = GATE_OF[phase];
  const reasons = gate
    ? unmetReasons(gate, s, maxAgeMs, now)
    : [...runProblems(s), ...flagProblems(s)];
  const step = (text: string, ...extra: (string | false)[]) => {
    const r = [...reasons, ...extra.filter((e): e is string => Boolean(e))];
    return { step: text, safe: r.length === 0, reasons: r };
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
        s.leftovers.unmigratableUnaccepted > 0 ||
          unaccepted(runs.backfill.last?.counts ?? {}, "unmigratable") > 0
          ? "run `jobs-migrate verify`, then fix its unmigratable old keys or accept them (`jobs-migrate accept --from-last verify`)"
          : "run `jobs-migrate verify`",
      );
    case "verified":
      return step("flip reads to the new keys (AI_JOBS_NEW_SCHEMA=on for readers)");
    case "read flipped":
      return step("stop old-schema writes, then run `jobs-migrate cleanup --execute`");
    case "cleaning up": {
      const kept = keptByCleanup(runs.cleanup);
      // Running cleanup again would keep them again: they need a person.
      if (kept > 0)
        return step(
          `the last cleanup kept ${kept} old key(s) it cannot prove safe to delete (unmigratable, or not equal to their new key: \`jobs-migrate verify\` lists them): fix them (or accept unmigratable ones: \`jobs-migrate accept --from-last verify\`), then run \`jobs-migrate cleanup --execute\` again`,
          `${kept} old key(s) kept by the last cleanup need a person`,
        );
      return step("finish `jobs-migrate cleanup --execute`");
    }
    case "done":
      return step("nothing left: the migration is complete");
    case "rolled back":
      return step("inspect `jobs-migrate verify`; restart the rollout from dual-write when ready");
  }
}

/** Runs in progress or dead with a checkpoint: no step is safe while they are. */
function runProblems(s: Pick<RolloutState, "runs">): string[] {
  return Object.entries(s.runs).flatMap(([n, r]) =>
    r.current?.state === "running"
      ? [`a ${n} run is in progress`]
      : r.current?.state === "stale"
        ? [`a ${n} run died (stale checkpoint): run it again to finish`]
        : [],
  );
}

function flagProblems(s: Pick<RolloutState, "flag">): string[] {
  return s.flag.disagree
    ? [`the flag disagrees: environment ${s.flag.env}, Redis ${s.flag.redis}`]
    : [];
}

export type Gate = "backfilled" | "verified" | "ready-for-read-flip" | "ready-for-cleanup" | "done";
export const GATES: Gate[] = [
  "backfilled",
  "verified",
  "ready-for-read-flip",
  "ready-for-cleanup",
  "done",
];

/**
 * The reasons a gate is not met (empty: met). Also what makes the next step unsafe (see
 * nextStep): one function, so a gate and the next line never disagree. Gate meanings
 * (also in `flag --help` and the runbooks):
 *  - backfilled: a backfill completed, with no unstable key and no unmigratable key
 *    outside the accepted set (judged by the last full verify when one ran since).
 *  - verified: backfilled, and a clean verify of the whole keyspace (no confirmed
 *    divergence or orphan) finished after it, within --max-verify-age, whose unmigratable keys
 *    are all accepted.
 *  - ready-for-read-flip: verified; no run in progress or dead; the flag agrees between
 *    environment and Redis; no partial old hash.
 *  - ready-for-cleanup: a recent clean verify; no run in progress or dead; the flag on
 *    (reads use the new keys) and agreeing; no partial old hash (old-schema writes off).
 *  - done: the phase is done (cleanup finished; only accepted unmigratable old keys left).
 */
export function unmetReasons(
  gate: Gate,
  s: Omit<RolloutState, "next">,
  maxAgeMs: number,
  now = new Date(),
): string[] {
  const r: string[] = [];
  const age = (iso: string | undefined) => now.getTime() - time(iso);
  const { backfill, verify } = s.runs;
  // A full verify after the backfill knows the leftovers better (and accept may have come
  // since): judge unmigratable keys by it, against the accepted set of now.
  const verifiedSince =
    s.leftovers.fromRun !== undefined &&
    time(s.leftovers.finishedAt) >= time(backfill.last?.finishedAt);
  const openUnmigratable = verifiedSince
    ? s.leftovers.unmigratableUnaccepted
    : unaccepted(backfill.last?.counts ?? {}, "unmigratable");
  const needBackfill = () => {
    if (!backfill.last) return void r.push("no completed backfill");
    if ((backfill.last.counts.unstable ?? 0) > 0)
      r.push(`the last backfill found ${backfill.last.counts.unstable} unstable key(s)`);
    if (openUnmigratable > 0)
      r.push(
        `${openUnmigratable} unmigratable old key(s) not accepted (${verifiedSince ? "last verify" : "last backfill"}): fix them, or \`jobs-migrate accept --from-last verify\` after a verify`,
      );
  };
  const needVerify = () => {
    if (!verify.last) r.push("no completed verify of the whole keyspace");
    else if (!verify.last.clean) r.push(`the last verify (run ${verify.last.runId}) was not clean`);
    else if (age(verify.last.finishedAt) > maxAgeMs)
      r.push(
        `the last clean verify is older than --max-verify-age (${Math.round(age(verify.last.finishedAt) / 60000)} min)`,
      );
    else if (time(verify.last.finishedAt) < time(backfill.last?.finishedAt))
      r.push("the last verify finished before the last backfill");
  };
  const partialOld = () => {
    if (s.keys.partialOld > 0)
      r.push(
        `${s.keys.partialOld} partial old hashes${s.keys.exact ? "" : " (estimated)"}: old-schema writes look still on`,
      );
  };
  if (gate === "backfilled") needBackfill();
  if (gate === "verified") {
    needBackfill();
    needVerify();
  }
  if (gate === "ready-for-read-flip") {
    needBackfill();
    needVerify();
    r.push(...runProblems(s), ...flagProblems(s));
    partialOld();
  }
  if (gate === "ready-for-cleanup") {
    needVerify();
    r.push(...runProblems(s));
    if (s.flag.on !== true) r.push("the flag is not on (reads must use the new keys)");
    r.push(...flagProblems(s));
    partialOld();
  }
  if (gate === "done" && s.phase !== "done") r.push(`the phase is "${s.phase}", not "done"`);
  return r;
}
