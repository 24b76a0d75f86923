import type { MasterNode } from "../redis/target.js";
import type { Checkpoint, NodeProgress } from "./checkpoint.js";
import type { Shard } from "./topology.js";

/** A pass's slots owed a rescan (see SlotWatch), and that rescan's counts. */
export const RESCAN = "rescan";

/** Checkpoint id of one shard in one pass ("main/0-5460", "main/standalone"). */
export const progressId = (pass: string, shard: string): string => `${pass}/${shard}`;
const passOf = (id: string): string => id.slice(0, id.lastIndexOf("/"));

function fresh(node: MasterNode): NodeProgress {
  return {
    serverRunId: node.serverRunId,
    address: node.address,
    cursor: "0",
    done: false,
    counts: { scanned: 0 },
    findings: [],
  };
}

/** A run's progress per pass and shard (the checkpoint's `nodes`), kept saved. */
export class ShardProgress {
  constructor(
    private readonly nodes: Record<string, NodeProgress>,
    private readonly checkpoint: Checkpoint,
    private readonly log: (level: "info" | "warn", message: string) => void,
  ) {}

  /**
   * Fit a pass's saved progress to the shards of now: a shard whose slots are unchanged
   * keeps its cursor (walkShard voids it if another process serves it now); saved shards
   * whose slots changed (a reshard between runs) are dropped, and the masters serving
   * their slots now are walked from the start, so every key is visited.
   */
  async reconcile(pass: string, now: Shard[]): Promise<void> {
    const wanted = new Set(now.map((sh) => progressId(pass, sh.key)));
    const stale = Object.keys(this.nodes).filter(
      (id) => passOf(id) === pass && !wanted.has(id) && id !== progressId(pass, RESCAN),
    );
    for (const id of stale) {
      delete this.nodes[id];
      await this.checkpoint.dropNode(id);
    }
    if (stale.length > 0)
      this.log(
        "warn",
        `the slot layout changed since the checkpoint: ${stale.length} saved shard(s) of pass ${pass} no longer exist; the masters serving their slots now are walked from the start`,
      );
    for (const sh of now) this.nodes[progressId(pass, sh.key)] ??= fresh(sh.node);
    this.nodes[progressId(pass, RESCAN)] ??= { ...fresh(now[0]!.node), done: true };
    for (const sh of now)
      await this.checkpoint.saveNode(
        progressId(pass, sh.key),
        this.nodes[progressId(pass, sh.key)]!,
      );
  }

  /** A pass whose every saved shard is done and owes no rescan. */
  passDone(pass: string): boolean {
    const entries = Object.entries(this.nodes).filter(([id]) => passOf(id) === pass);
    return entries.length > 0 && entries.every(([, p]) => p.done && !p.pendingSlots);
  }
}
