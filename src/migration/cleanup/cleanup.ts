import { stateKey } from "../../engine/stateKeys.js";
import { GuardRefusedError } from "../../errors.js";
import { runScan, type RunResult } from "../../engine/runScan.js";
import type { Redis } from "ioredis";
import type { RedisTarget } from "../../redis/target.js";
import { unaccepted, withBaseline } from "../shared/baseline.js";
import type { RunSettings } from "../shared/runSettings.js";
import type { CleanupSettings } from "./cleanupSettings.js";
import { RecreationWatch } from "./recreationWatch.js";
import { cleanupCluster } from "./cleanupCluster.js";
import { cleanupAtomic, type SingleCleanup } from "./cleanupSingle.js";
import { cleanupRefusal, type GuardInput } from "./cleanupGuard.js";
import { settleAside } from "./asideKeys.js";
import { displayBytes } from "../shared/keySchema.js";
import { Tombstones } from "../shared/tombstones.js";

export interface CleanupOptions extends Omit<
  CleanupSettings,
  "tombstones" | "asidePrefix" | "asideCount"
> {
  force: boolean;
  guard: Omit<GuardInput, "client" | "statePrefix" | "side">;
}

export interface CleanupResult extends RunResult {
  side: "old" | "new";
  executed: boolean;
  /** The guard's refusal that --override-guard overrode, if any. */
  forcedPast: string | undefined;
  clean: boolean;
}

/**
 * Delete one side of each pair proven equal at that instant (dry run unless execute),
 * and nothing else. With execute, refuses (exit 5) without a recent clean verify and the
 * flag in the right position, unless forced. Stops (exit 5) when the application is still
 * writing old keys: a deleted old key re-created as a partial hash.
 */
export async function cleanup(
  target: RedisTarget,
  o: CleanupOptions,
  run: RunSettings,
): Promise<CleanupResult> {
  let forcedPast: string | undefined;
  if (o.execute) {
    const refusal = await cleanupRefusal({
      ...o.guard,
      client: target.client,
      statePrefix: run.statePrefix,
      side: o.side,
    });
    if (refusal && !o.force)
      throw new GuardRefusedError(
        `cleanup refused: ${refusal}; to override (and have it logged), add --override-guard`,
      );
    if (refusal) {
      forcedPast = refusal;
      run.onEvent?.({
        type: "log",
        level: "warn",
        message: `guard overridden by --override-guard: ${refusal}`,
      });
    }
  }
  const watch = new RecreationWatch(target);
  const settings: CleanupSettings = {
    ...o,
    tombstones: new Tombstones(target, run.statePrefix),
    // Per side: each side's runs hold their own lock, and settle only their own keys.
    asidePrefix: `${stateKey(run.statePrefix, "cleanup", "aside", o.side)}:`,
    asideCount: stateKey(run.statePrefix, "cleanup", "aside-count", o.side),
  };
  const single = target.isCluster ? undefined : cleanupAtomic(target, settings, watch);
  const result = await runScan({
    ...run,
    target,
    name: "cleanup",
    // A dry run has its own checkpoint: an --execute run must never resume past keys
    // that a dry run only looked at.
    scope: `${o.side === "old" ? "cleanup" : "cleanup-new"}${o.execute ? "" : "-dry-run"}`,
    definingOptions: {
      subcommand: "cleanup",
      oldPrefix: o.schema.oldPrefix,
      newPrefix: o.schema.newPrefix,
      side: o.side,
      execute: o.execute,
    },
    passes: [
      {
        name: "main",
        keyPrefix: o.schema.oldPrefix,
        processBatch: withBaseline(
          target.client,
          run.statePrefix,
          single?.processBatch ?? cleanupCluster(target, settings, watch),
          false,
        ),
      },
    ],
    prepare: single && (() => settle(target, settings, run, single)),
    finish: async (completed) => {
      await single?.flush();
      // The last batches' deletions get their second look too (update_status may give
      // itself away a moment later), before the run is recorded as completed.
      if (completed && o.execute && o.side === "old") await watch.finalLook();
    },
    lastResult: (r) => ({
      ...r,
      findings: undefined,
      side: o.side,
      executed: o.execute,
      forcedPast,
    }),
  });
  const c = result.counts;
  return {
    ...result,
    side: o.side,
    executed: o.execute,
    forcedPast,
    clean:
      unaccepted(c, "unmigratable") === 0 &&
      (c.differs ?? 0) === 0 &&
      (c.newMissing ?? 0) === 0 &&
      (c.newWrongType ?? 0) === 0,
  };
}

/**
 * Keys an interrupted `cleanup --archive` left moved aside: archive them, or put them back
 * and prove them again at once (the resumed SCAN may be past their names already).
 */
async function settle(
  target: RedisTarget,
  s: CleanupSettings,
  run: RunSettings,
  single: SingleCleanup,
): Promise<void> {
  const archive = s.execute ? s.archive : undefined;
  const mode = archive ? "archive" : s.execute ? "restore" : "count";
  const r = await settleAside(target.client as Redis, s.asidePrefix, s.asideCount, mode, archive);
  if (r.found === 0) return;
  const log = (message: string) => run.onEvent?.({ type: "log", level: "warn", message });
  if (mode === "count")
    log(
      `${r.found} key(s) were left moved aside (${s.asidePrefix}*) by an interrupted cleanup --archive; the next cleanup --execute archives them (with --archive) or puts them back`,
    );
  if (r.archived)
    log(`archived and deleted ${r.archived} key(s) an interrupted run left moved aside`);
  if (r.restored.length) {
    const [node] = await target.masters();
    const again = await single.processBatch(r.restored, {
      node: node!,
      recheck: false,
      parked: () => undefined,
    });
    const c = again.counts;
    const kept = r.restored.length - (c.deleted ?? 0);
    log(
      `put back ${r.restored.length} key(s) an interrupted run left moved aside, and proved them again: deleted ${c.deleted ?? 0}, kept ${kept}${again.findings.length ? ` (${again.findings.map((f) => `${f.key}: ${f.reason}`).join("; ")})` : ""}`,
    );
  }
  if (r.stuck.length)
    log(
      `${r.stuck.length} key(s) left moved aside under ${s.asidePrefix}: their names exist again (e.g. ${displayBytes(r.stuck[0]!)}); run cleanup --execute --archive to archive them`,
    );
}
