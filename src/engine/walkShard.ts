import calculateSlot from "cluster-key-slot";
import { RedisUnavailableError } from "../errors.js";
import type { MasterNode } from "../redis/target.js";
import type { NodeProgress } from "./checkpoint.js";
import type { BatchOutcome, PassSpec } from "./runSpec.js";
import {
  isMigrationError,
  isTopologyError,
  type Shard,
  type SlotWatch,
  type Topology,
} from "./topology.js";
import { walkNode, type WalkContext } from "./walkNode.js";

export interface ShardContext extends WalkContext {
  topology: Topology;
  watch: SlotWatch;
  log: (level: "info" | "warn", message: string) => void;
}

/** Failovers ridden through per shard and run before giving up (a loop, not an outage). */
const MAX_MOVES = 20;

const label = (shard: Shard): string =>
  shard.key === "standalone" ? "the master" : `shard ${shard.key}`;

/** Start the shard over: a cursor means nothing on another server process. */
function restart(progress: NodeProgress, node: MasterNode): void {
  progress.serverRunId = node.serverRunId;
  progress.address = node.address;
  progress.cursor = "0";
  progress.done = false;
  progress.counts = { scanned: 0 };
  progress.findings = [];
}

/**
 * The pass's batches for one shard, minus the keys of slots the watch has deferred (they
 * get a rescan by slot). A batch that meets a key in a slot on the move (MOVED, ASK,
 * TRYAGAIN, a script's "non local key") is deferred whole, unless its shard's master was
 * demoted (then the error is the walk's to handle: a failover).
 */
function deferring(pass: PassSpec, shard: Shard, watch: SlotWatch): PassSpec {
  if (!watch.clustered) return pass;
  return {
    ...pass,
    processBatch: async (keys, ctx): Promise<BatchOutcome> => {
      const kept = keys.filter((k) => !watch.isDeferred(k));
      const skipped = keys.length - kept.length;
      if (kept.length === 0) return { counts: {}, findings: [], deferred: skipped };
      try {
        const outcome = await pass.processBatch(kept, ctx);
        return { ...outcome, deferred: (outcome.deferred ?? 0) + skipped };
      } catch (err) {
        if (!isMigrationError(err)) throw err;
        await watch.poll();
        if (watch.lost(shard.key)) throw err;
        await watch.defer(
          kept.map((k) => calculateSlot(k)),
          `held keys a batch could not reach (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`,
        );
        return { counts: {}, findings: [], deferred: keys.length };
      }
    },
  };
}

/** Whether the shard's master is the process its walk began on (waits for a settled view). */
async function stillServing(ctx: ShardContext, shard: Shard): Promise<boolean> {
  for (;;) {
    const view = await ctx.watch.poll();
    if (view !== undefined && view.unsettled === undefined) return !ctx.watch.lost(shard.key);
    await ctx.topology.settled(`checking ${label(shard)} before calling it done`);
  }
}

/**
 * Walk one shard to its end, riding through failovers: when its master is demoted or
 * gone, or a command fails because the topology moved, wait (within --settle-timeout)
 * for the deployment to settle and go on with whichever master now serves the shard. The
 * same server process keeps its cursor; a new one (a promoted replica, a restart) means
 * this shard alone starts over, and the log says so. Other shards are not touched.
 */
export async function walkShard(
  pass: PassSpec,
  shard: Shard,
  progress: NodeProgress,
  ctx: ShardContext,
): Promise<void> {
  // Done is done: a shard whose every key was visited needs no new process's cursor.
  if (progress.done) return;
  const walked = deferring(pass, shard, ctx.watch);
  for (let moves = 0; ; moves++) {
    if (progress.serverRunId !== shard.node.serverRunId) {
      const began = progress.cursor !== "0" || (progress.counts.scanned ?? 0) > 0;
      if (progress.serverRunId !== undefined && began) {
        const was = progress.address;
        const now = shard.node.address;
        const what =
          was === undefined || was === now
            ? `${now} restarted ${moves === 0 ? "since the checkpoint" : "during the run"} (a new server process)`
            : `${label(shard)} failed over from ${was} to ${now}`;
        ctx.log(
          "warn",
          `${what}: its SCAN cursor is void there, so ${shard.key === "standalone" ? "it is" : "this shard alone is"} rescanned from the start (re-processing is harmless)`,
        );
      }
      restart(progress, shard.node);
      await ctx.checkpoint.saveNode(ctx.progressId, progress);
    }
    const stop = (): boolean => ctx.stop() || ctx.watch.lost(shard.key);
    let failure: unknown;
    try {
      await walkNode(walked, shard.node, progress, { ...ctx, stop });
      if (ctx.stop()) return;
      if (progress.done) {
        // A client reconnects on its own, to whatever now answers at its address or its
        // Sentinels name: the last batches may have run on another process, its cursor
        // then meaningless. Done only if the shard's master is still the one it began on.
        if (await stillServing(ctx, shard)) return;
        progress.done = false;
      }
    } catch (err) {
      if (ctx.stop() || !isTopologyError(err) || moves >= MAX_MOVES) throw err;
      failure = err;
    }
    const why =
      failure === undefined
        ? `${shard.node.address} no longer serves ${label(shard)}`
        : `${shard.node.address} (${label(shard)}): ${(failure instanceof Error ? (failure.message.split("\n")[0] ?? "") : String(failure)).replace(/\.$/, "")}`;
    ctx.log("warn", why);
    const view = await ctx.topology.settled(why);
    await ctx.watch.poll();
    // The master serving most of the shard's slots carries on; any slots that went
    // elsewhere have been deferred by the poll (moved) and are rescanned by slot.
    const next = [...view.masters]
      .map((m) => ({ m, n: m.slots.filter((s) => shard.slots.has(s)).length }))
      .sort((a, b) => b.n - a.n)[0];
    if (!next || (ctx.watch.clustered && next.n === 0)) {
      throw new RedisUnavailableError(
        `no master serves ${label(shard)} any more; the checkpoint is kept, run the same command again to resume`,
      );
    }
    shard.node = {
      id: next.m.id,
      address: next.m.address,
      serverRunId: next.m.runId,
      client: next.m.client,
    };
    ctx.watch.found(shard.key);
  }
}
