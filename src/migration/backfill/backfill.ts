import type { Redis } from "ioredis";
import type { RunSettings } from "../shared/runSettings.js";
import { stateKeys } from "../../engine/stateKeys.js";
import { runScan, type RunResult } from "../../engine/runScan.js";
import type { RedisTarget } from "../../redis/target.js";
import { unaccepted, withBaseline } from "../shared/baseline.js";
import { copyAtomic } from "./copyAtomic.js";
import { copyConfirm } from "./copyConfirm.js";
import type { KeySchema } from "../shared/keySchema.js";
import { reverseAtomic, reverseCluster } from "./reverse.js";
import { Tombstones } from "../shared/tombstones.js";

/** No unmigratable and no unstable key: what exit 0 and the `backfilled` gate need. */
/** No unmigratable key outside the accepted baseline, and no unstable key. */
export function backfillClean(c: Record<string, number>): boolean {
  return unaccepted(c, "unmigratable") === 0 && (c.unstable ?? 0) === 0;
}

export interface BackfillResult extends RunResult {
  mode: "atomic" | "copy-then-confirm" | "reverse";
  /** False when unmigratable keys not accepted, or unstable keys, were found (exit 1). */
  clean: boolean;
}

/**
 * Copy every old job hash to its new key where the new key is absent, TTL and bytes
 * preserved: atomically on a single instance, copy-then-confirm on a Cluster.
 */
export async function backfill(
  target: RedisTarget,
  schema: KeySchema,
  run: RunSettings,
): Promise<BackfillResult> {
  const atomic = !target.isCluster;
  const result = await runScan({
    ...run,
    target,
    name: "backfill",
    scope: "backfill",
    definingOptions: {
      subcommand: "backfill",
      oldPrefix: schema.oldPrefix,
      newPrefix: schema.newPrefix,
    },
    lastResult: (r) => ({ ...r, findings: undefined, clean: backfillClean(r.counts) }),
    passes: [
      {
        name: "main",
        keyPrefix: schema.oldPrefix,
        processBatch: withBaseline(
          target.client,
          run.statePrefix,
          atomic ? copyAtomic(target.client as Redis, schema) : copyConfirm(target, schema),
          false,
        ),
      },
    ],
  });
  const c = result.counts;
  return {
    ...result,
    mode: atomic ? "atomic" : "copy-then-confirm",
    clean: backfillClean(c),
  };
}

/**
 * Rollback after cleanup began: rebuild old keys from new ones (the new keys hold the
 * latest state once reads flipped). Recreates the old keys cleanup deleted (its
 * tombstones), repairs partial old hashes, and never invents an old key for a job that
 * never had one unless `recreateMissing`.
 */
export async function reverseBackfill(
  target: RedisTarget,
  schema: KeySchema,
  recreateMissing: boolean,
  run: RunSettings,
): Promise<BackfillResult> {
  const settings = { schema, recreateMissing, tombstones: new Tombstones(target, run.statePrefix) };
  const result = await runScan({
    ...run,
    target,
    name: "backfill --reverse",
    scope: "backfill-reverse",
    lastResult: (r) => ({ ...r, findings: undefined, clean: (r.counts.conflict ?? 0) === 0 }),
    definingOptions: {
      subcommand: "backfill-reverse",
      oldPrefix: schema.oldPrefix,
      newPrefix: schema.newPrefix,
      recreateMissing,
    },
    passes: [
      {
        name: "main",
        keyPrefix: schema.newPrefix,
        processBatch: target.isCluster
          ? reverseCluster(target, settings)
          : reverseAtomic(target, settings),
      },
    ],
  });
  // The rollback rebuilt old keys an unfinished cleanup had already walked past: its
  // checkpoint must not be resumed, or the next cleanup would skip them.
  const cleanupCheckpoint = stateKeys(run.statePrefix, "cleanup").checkpoint;
  if ((await target.client.hget(cleanupCheckpoint, "status")) !== "completed")
    await target.client.del(cleanupCheckpoint);
  return { ...result, mode: "reverse", clean: (result.counts.conflict ?? 0) === 0 };
}
