import { estimateKeys } from "../../engine/estimate.js";
import { runScan, type PassSpec, type RunResult } from "../../engine/runScan.js";
import { ReplicaReads } from "../../redis/replicas.js";
import type { RedisTarget } from "../../redis/target.js";
import type { RunSettings } from "../shared/runSettings.js";
import type { KeySchema } from "../shared/keySchema.js";
import { finishRecording, startRecording, withBaseline } from "../shared/baseline.js";
import { findOrphans } from "./orphans.js";
import { runStatus } from "../shared/runStatus.js";
import { verifyPairs, type VerifySettings } from "./verifyPairs.js";

export interface VerifyOptions {
  schema: KeySchema;
  ttlToleranceMs: number;
  workspaces: string[] | undefined;
  /** A fraction (0 < f <= 1) or a count (> 1) of pairs, or undefined for all. */
  sample: number | undefined;
  orphans: boolean;
  recheckRounds: number;
  recheckDelayMs: number;
  repair: "no" | "dry-run" | "yes";
  /** Read pairs from replicas first (each master's, once caught up; see ReplicaReads). */
  readFrom: "master" | "replicas";
  sink?: VerifySettings["sink"];
  plan?: VerifySettings["plan"];
}

export interface VerifyResult extends RunResult {
  /** "all", "workspaces=ws-1,ws-2", "sample=0.1" ... */
  scope: string;
  sampleFraction: number;
  /** No confirmed divergence and no orphan: what cleanup's guard and flag's gates need. */
  clean: boolean;
}

/** The scope label: which pairs a verify covered (also names its checkpoint and lock). */
export function scopeOf(o: Pick<VerifyOptions, "workspaces" | "sample">): string {
  const parts: string[] = [];
  if (o.workspaces) parts.push(`workspaces=${[...o.workspaces].sort().join(",")}`);
  if (o.sample !== undefined) parts.push(`sample=${o.sample}`);
  return parts.length ? parts.join(";") : "all";
}

/**
 * Diff every old job hash with its new key, field by field and byte by byte; re-check
 * divergent pairs before calling them confirmed; then (by default) look for orphan new
 * keys. Stores the result as the scope's last verify for cleanup and flag.
 */
export async function verify(
  target: RedisTarget,
  o: VerifyOptions,
  run: RunSettings,
): Promise<VerifyResult> {
  const scope = scopeOf(o);
  let sampleFraction = 1;
  if (o.sample !== undefined) {
    const masters = await target.masters();
    sampleFraction =
      o.sample <= 1
        ? o.sample
        : Math.min(
            1,
            o.sample / Math.max(1, await estimateKeys(masters, Buffer.from(o.schema.oldPrefix))),
          );
  }
  const replicas = o.readFrom === "replicas" ? await ReplicaReads.open(target) : undefined;
  if (o.readFrom === "replicas")
    run.onEvent?.({
      type: "log",
      level: replicas ? "info" : "warn",
      message: replicas
        ? `--read-from replicas: reading ${replicas.addresses.join(", ")} (each once caught up with its master)`
        : `--read-from replicas: no online replica found; reading the masters`,
    });
  try {
    return await verifyOn(target, o, run, scope, sampleFraction, replicas);
  } finally {
    replicas?.close();
  }
}

async function verifyOn(
  target: RedisTarget,
  o: VerifyOptions,
  run: RunSettings,
  scope: string,
  sampleFraction: number,
  replicas: ReplicaReads | undefined,
): Promise<VerifyResult> {
  const settings: VerifySettings = {
    replicas,
    compare: {
      schema: o.schema,
      ttlToleranceMs: o.ttlToleranceMs,
      workspaces: o.workspaces ? new Set(o.workspaces) : undefined,
    },
    sampleFraction,
    recheck: { rounds: o.recheckRounds, delayMs: o.recheckDelayMs, signal: run.signal },
    repair: o.repair,
    sink: o.sink,
    plan: o.plan,
  };
  // A verify of the whole keyspace records its leftovers, the set `accept` can accept.
  const whole = scope === "all";
  const baseline = (p: PassSpec["processBatch"]) =>
    withBaseline(target.client, run.statePrefix, p, whole);
  const passes: PassSpec[] = [
    {
      name: "pairs",
      keyPrefix: o.schema.oldPrefix,
      processBatch: baseline(verifyPairs(target, settings)),
    },
  ];
  if (o.orphans) {
    // Once cleanup has deleted old keys, new keys without one are expected (see findOrphans).
    const cleanup = await runStatus(target.client, run.statePrefix, "cleanup");
    const afterCleanup = Boolean(cleanup.last?.executed) || cleanup.current !== undefined;
    if (afterCleanup)
      run.onEvent?.({
        type: "log",
        level: "info",
        message:
          "cleanup has deleted old keys: a new job key without an old key is counted as newOnly, not as an orphan",
      });
    // With workspaces, only their part of the new keyspace is walked.
    const prefixes = o.workspaces
      ? o.workspaces.map((ws) => `${o.schema.newPrefix}${ws}:`)
      : [o.schema.newPrefix];
    for (const keyPrefix of prefixes)
      passes.push({
        name: `orphans:${keyPrefix}`,
        keyPrefix,
        processBatch: baseline(findOrphans(target, o.schema, { ...settings, afterCleanup })),
      });
  }
  const summarize = (r: RunResult): VerifyResult => {
    const c = r.counts;
    return { ...r, scope, sampleFraction, clean: (c.confirmed ?? 0) === 0 };
  };
  let recordingRun = "";
  const result = await runScan({
    ...run,
    target,
    name: "verify",
    scope: scope === "all" ? "verify" : `verify:${scope}`,
    definingOptions: {
      subcommand: "verify",
      oldPrefix: o.schema.oldPrefix,
      newPrefix: o.schema.newPrefix,
      scope,
      orphans: o.orphans,
      repair: o.repair,
      ttlToleranceMs: o.ttlToleranceMs,
    },
    passes,
    prepare: whole
      ? ({ runId }) => {
          recordingRun = runId;
          return startRecording(target.client, run.statePrefix, runId);
        }
      : undefined,
    finish: whole
      ? async (completed) => {
          if (!completed) return;
          const at = new Date().toISOString();
          await finishRecording(target.client, run.statePrefix, {
            runId: recordingRun,
            finishedAt: at,
          });
        }
      : undefined,
    lastResult: (r) => {
      const v = summarize(r);
      return {
        runId: v.runId,
        scope,
        finishedAt: v.finishedAt,
        startedAt: v.startedAt,
        counts: v.counts,
        clean: v.clean,
        orphansChecked: o.orphans,
      };
    },
  });
  return summarize(result);
}
