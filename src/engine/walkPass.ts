import calculateSlot from "cluster-key-slot";
import type { CheckpointState } from "./checkpoint.js";
import { rescanSlots } from "./rescanSlots.js";
import type { PassSpec } from "./runSpec.js";
import { progressId, RESCAN } from "./shardProgress.js";
import { fromRanges, toRanges } from "./slotRanges.js";
import { SlotWatch, type Shard } from "./topology.js";
import { walkShard, type ShardContext } from "./walkShard.js";

export type PassContext = Omit<ShardContext, "watch" | "progressId"> & {
  nodes: CheckpointState["nodes"];
  /** Records the run's first failure (which makes `stop()` true for every walk). */
  fail: (err: unknown) => void;
};

/**
 * One pass over the shards of now: every shard walked at once, with a SlotWatch deferring
 * what moves; then, unless the run is stopping, the slots owed are rescanned by slot.
 */
export async function walkPass(pass: PassSpec, shards: Shard[], ctx: PassContext): Promise<void> {
  const { nodes, fail, ...rest } = ctx;
  const rescanId = progressId(pass.name, RESCAN);
  const owed = nodes[rescanId]!;
  const watch = new SlotWatch(
    ctx.topology,
    shards,
    fromRanges(owed.pendingSlots ?? ""),
    (slots) => {
      owed.pendingSlots = slots.size > 0 ? toRanges(slots) : undefined;
      owed.done = slots.size === 0;
      return ctx.checkpoint.saveNode(rescanId, owed).then(() => undefined);
    },
    ctx.log,
  );
  const common = { ...rest, watch };
  watch.start();
  try {
    await Promise.all(
      shards.map((shard) => {
        const id = progressId(pass.name, shard.key);
        return walkShard(pass, shard, nodes[id]!, { ...common, progressId: id }).catch(fail);
      }),
    );
    if (!ctx.stop()) {
      // Whatever moved while the walks ran, up to their very end, is owed too.
      await watch.poll();
      await rescanSlots(pass, owed, {
        ...common,
        progressId: rescanId,
        batchSize: ctx.throttle.batchSizeFor("rescan"),
        slotOf: (k) => calculateSlot(k),
      }).catch(fail);
    }
  } finally {
    await watch.stop();
  }
}
