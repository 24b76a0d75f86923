import type { Cluster, Redis } from "ioredis";
import { defineScripts } from "./scripts.js";

export const SLOTS = 16384;

/** What one master says of itself: the slots it serves and the ones on the move. */
export interface MasterClaim {
  /** Cluster node id, or "standalone". */
  id: string;
  /** host:port, for logs. */
  address: string;
  client: Redis;
  /** The process's run_id: a new one means a new process (failover, restart). */
  runId: string;
  /** Bumped when the node takes slots (a failover, a slot migration's end). */
  configEpoch: number;
  /** Slots it serves, ascending ([] on a single instance: it serves everything). */
  slots: number[];
  /** Slots it is migrating away or importing now. */
  moving: number[];
}

/** The deployment as its masters describe it now. */
export interface TopologyView {
  masters: MasterClaim[];
  /** Why the deployment is not fit to work on now (undefined: it is). */
  unsettled: string | undefined;
}

/** Fails after `ms`: a dead node's reply never comes, and a poll must not hang on it. */
export function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no reply within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function runIdOf(client: Redis): Promise<{ runId: string; role: string }> {
  const info = String(await client.call("INFO", "server", "replication"));
  return {
    runId: /run_id:(\w+)/.exec(info)?.[1] ?? "unknown",
    role: /role:(\w+)/.exec(info)?.[1] ?? "unknown",
  };
}

function addressOf(client: Redis): string {
  // Through Sentinel, options.host is ioredis' default, not the master: ask the socket.
  if (client.options.sentinels?.length) {
    return `${client.stream?.remoteAddress}:${client.stream?.remotePort}`;
  }
  return `${client.options.host}:${client.options.port}`;
}

/** A single instance (or a Sentinel's master): one master serving every slot. */
export async function readSingleView(client: Redis, timeoutMs: number): Promise<TopologyView> {
  const { runId, role } = await within(timeoutMs, runIdOf(client), "INFO");
  const master: MasterClaim = {
    id: "standalone",
    address: addressOf(client),
    client,
    runId,
    configEpoch: 0,
    slots: [],
    moving: [],
  };
  return {
    masters: [master],
    unsettled: role === "master" ? undefined : `${master.address} is a ${role}, not a master`,
  };
}

/**
 * Parse the `myself` line of CLUSTER NODES: `<id> <addr> <flags> <master> <ping> <pong>
 * <epoch> <link> <slot|range|[slot->-id]|[slot-<-id]>…`.
 */
export function parseMyself(nodes: string): {
  id: string;
  master: boolean;
  configEpoch: number;
  slots: number[];
  moving: number[];
} {
  const line = nodes.split("\n").find((l) => l.split(" ")[2]?.split(",").includes("myself"));
  if (!line) throw new Error("CLUSTER NODES has no myself line");
  const parts = line.trim().split(" ");
  const slots: number[] = [];
  const moving: number[] = [];
  for (const entry of parts.slice(8)) {
    if (entry.startsWith("[")) {
      moving.push(Number(entry.slice(1, entry.indexOf("-"))));
      continue;
    }
    const [from, to] = entry.split("-").map(Number) as [number, number | undefined];
    for (let s = from; s <= (to ?? from); s++) slots.push(s);
  }
  return {
    id: parts[0] ?? "",
    master: (parts[2] ?? "").split(",").includes("master"),
    configEpoch: Number(parts[6] ?? 0),
    slots,
    moving,
  };
}

/** Ask ioredis to reread the slot map (after MOVED it does so itself, later). */
export function refreshSlots(cluster: Cluster, timeoutMs: number): Promise<void> {
  return within(
    timeoutMs,
    new Promise<void>((resolve, reject) =>
      cluster.refreshSlotsCache((err) => (err ? reject(err) : resolve())),
    ),
    "slot map refresh",
  );
}

/**
 * Every master ioredis knows of, each asked about itself. Unsettled while a master does
 * not answer, two claim one slot, a slot has no master, or the client's slot map disagrees
 * with the masters (it sends keys to the wrong node). Slots on the move (a reshard) do not
 * make it unsettled: they are listed in each claim's `moving`.
 */
export async function readClusterView(cluster: Cluster, timeoutMs: number): Promise<TopologyView> {
  const view = await askMasters(cluster, timeoutMs);
  if (view.unsettled === undefined) return view;
  // Only then: ioredis may ask any node for the map, a replica too, and one that is slow
  // to answer must not hold up a run whose masters are fine.
  await refreshSlots(cluster, timeoutMs).catch(() => undefined);
  return askMasters(cluster, timeoutMs);
}

async function askMasters(cluster: Cluster, timeoutMs: number): Promise<TopologyView> {
  const clients = cluster.nodes("master");
  const answers = await Promise.allSettled(
    clients.map(async (client) => {
      defineScripts(client);
      const [nodes, info, state] = await within(
        timeoutMs,
        Promise.all([
          client.call("CLUSTER", "NODES").then(String),
          runIdOf(client),
          client.call("CLUSTER", "INFO").then(String),
        ]),
        `CLUSTER NODES at ${addressOf(client)}`,
      );
      const me = parseMyself(nodes);
      return { client, me, runId: info.runId, ok: /cluster_state:ok/.test(state) };
    }),
  );
  const masters: MasterClaim[] = [];
  const problems: string[] = [];
  answers.forEach((a, i) => {
    const address = addressOf(clients[i]!);
    if (a.status === "rejected") {
      problems.push(`${address} does not answer`);
      return;
    }
    const { client, me, runId, ok } = a.value;
    if (!ok) problems.push(`${address} reports cluster_state not ok`);
    if (!me.master) return; // demoted since ioredis' last map: its slots are elsewhere
    masters.push({ ...me, address, client, runId });
  });
  const owner = new Array<string | undefined>(SLOTS);
  for (const m of masters) {
    for (const s of m.slots) {
      if (owner[s] !== undefined) problems.push(`slot ${s} is claimed twice`);
      owner[s] = m.address;
    }
  }
  const unowned = owner.findIndex((o) => o === undefined);
  if (unowned >= 0) problems.push(`slot ${unowned} has no master`);
  const mapped = cluster.slots;
  const stale = owner.findIndex((o, s) => o !== undefined && mapped[s]?.[0] !== o);
  if (stale >= 0 && problems.length === 0) {
    problems.push(`the client's slot map is stale (slot ${stale})`);
  }
  masters.sort((a, b) => a.id.localeCompare(b.id));
  return {
    masters,
    unsettled: problems.length > 0 ? [...new Set(problems)].join("; ") : undefined,
  };
}
