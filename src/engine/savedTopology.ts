import type { TopologyView } from "../redis/clusterView.js";
import type { NodeProgress } from "./checkpoint.js";
import { fromRanges } from "./slotRanges.js";
import { shardsOf } from "./topology.js";

/** A shard as a checkpoint saved it: whose cursor it is. */
export interface SavedShard {
  key: string;
  address: string | undefined;
  serverRunId: string | undefined;
}

/** What a checkpoint's current pass (its first unfinished one, else its last) was made on. */
export interface SavedTopology {
  shards: SavedShard[];
  /** Slots owed a rescan by slot (they moved during the walk). */
  owedSlots: number;
}

export function savedTopology(nodes: Record<string, NodeProgress>): SavedTopology {
  const byPass = new Map<string, [string, NodeProgress][]>();
  for (const [id, p] of Object.entries(nodes)) {
    const pass = id.slice(0, id.lastIndexOf("/"));
    byPass.set(pass, [...(byPass.get(pass) ?? []), [id.slice(pass.length + 1), p]]);
  }
  const passes = [...byPass.values()];
  const current = passes.find((e) => e.some(([, p]) => !p.done)) ?? passes.at(-1) ?? [];
  const owed = current.find(([key]) => key === "rescan")?.[1].pendingSlots ?? "";
  return {
    shards: current
      .filter(([key]) => key !== "rescan")
      .map(([key, p]) => ({ key, address: p.address, serverRunId: p.serverRunId })),
    owedSlots: fromRanges(owed).length,
  };
}

const shardName = (key: string): string => (key === "standalone" ? "the master" : `shard ${key}`);

/**
 * How the deployment now differs from what a checkpoint was made on, and what the next
 * run will rescan because of it ([] when nothing changed and nothing is owed).
 */
export function topologyChangesSince(saved: SavedTopology, view: TopologyView): string[] {
  const out: string[] = [];
  const now = shardsOf(view);
  for (const s of saved.shards) {
    const same = now.find((n) => n.key === s.key);
    if (!same) {
      out.push(
        `${shardName(s.key)}: its slots moved since (a reshard): the masters serving them are walked from the start`,
      );
    } else if (s.serverRunId !== undefined && same.node.serverRunId !== s.serverRunId) {
      const who =
        same.node.address === s.address
          ? `${s.address} restarted`
          : `now served by ${same.node.address}, not ${s.address ?? "?"}`;
      out.push(`${shardName(s.key)}: ${who} (another server process): rescanned from the start`);
    }
  }
  if (saved.owedSlots > 0)
    out.push(`${saved.owedSlots} slot(s) that moved during the run are owed a rescan by slot`);
  return out;
}
