/**
 * Topology changes on a live Cluster from tools/redisCluster.ts, for tests that run the
 * migration tool WHILE the topology changes: a planned failover, a crashed master (and its
 * restart), and a slot-by-slot reshard with the real protocol (what `redis-cli --cluster
 * reshard` sends).
 *
 * Roles change over time, so every helper asks the nodes (CLUSTER NODES) who is master of
 * what, instead of trusting the roles the handle was started with (handle.replicasOf). Each
 * helper opens its own plain `Redis` connections to single nodes and closes them.
 *
 * A node's nodes.conf lives in its dir, which kill() keeps: a killed node restarted with
 * start() rejoins under its old id, even without `persist` (it then has no data of its own
 * and full-syncs from its new master).
 *
 * Not supported: clusters started with a password (the handle does not carry it).
 */
import { Redis } from "ioredis";
import { setTimeout as sleep } from "node:timers/promises";
import type { RedisClusterHandle, RedisServerHandle } from "../../tools/redisProcess.js";

export const SLOTS = 16384;
const POLL_MS = 50;
/** A probe that takes longer than this counts as "not answering". */
const PROBE_TIMEOUT_MS = 2000;

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

/**
 * A client of one node that fails fast: no reconnection, no offline queue, and errors
 * reported through the commands (the "error" event is swallowed so that a node that dies
 * mid-test does not print unhandled-error noise).
 */
function nodeClient(port: number, commandTimeout = PROBE_TIMEOUT_MS): Redis {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: PROBE_TIMEOUT_MS,
    commandTimeout,
  });
  client.on("error", () => {});
  return client;
}

/** Run `fn` on a fresh connection to the node on `port`, always disconnected after. */
async function withNode<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = nodeClient(port);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------
// Which processes are up
// ---------------------------------------------------------------------------------------

/** Servers killed through killMaster() and not restarted yet. */
const killed = new WeakSet<RedisServerHandle>();

/** Every process of the cluster, masters and replicas (by start role). */
function allServers(handle: RedisClusterHandle): RedisServerHandle[] {
  return [...handle.servers, ...handle.replicaServers];
}

/** The process's pid is gone: someone called kill() or stop() on it, or it crashed. */
function processGone(server: RedisServerHandle): boolean {
  if (server.pid <= 0) return true;
  try {
    process.kill(server.pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** The nodes that should answer: not killed by killMaster() and with a live process. */
function liveServers(handle: RedisClusterHandle): RedisServerHandle[] {
  return allServers(handle).filter((s) => !killed.has(s) && !processGone(s));
}

function serverOnPort(handle: RedisClusterHandle, port: number): RedisServerHandle {
  const server = allServers(handle).find((s) => s.port === port);
  if (server === undefined) throw new Error(`no node of this cluster listens on port ${port}`);
  return server;
}

// ---------------------------------------------------------------------------------------
// CLUSTER NODES
// ---------------------------------------------------------------------------------------

/** One line of CLUSTER NODES. */
export interface NodeEntry {
  id: string;
  /** The client port (the nodes announce 127.0.0.1:<port>@<bus port>). */
  port: number;
  /** e.g. ["myself", "master"], ["slave"], ["master", "fail"]. */
  flags: string[];
  /** The master's id for a replica, null for a master. */
  masterId: string | null;
  /** The slots it owns (expanded ranges), ascending. */
  slots: number[];
  /** Open slots, as listed in a node's own line: `[93->-<id>]` migrating, `[93-<-<id>]` importing. */
  openSlots: string[];
}

/** What one node says: its own entry and every entry of its table (itself included). */
export interface NodeView {
  port: number;
  self: NodeEntry;
  entries: NodeEntry[];
}

/** Parse CLUSTER NODES: `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot>…` */
export function parseClusterNodes(text: string): NodeEntry[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [id = "", address = "", flags = "", master = "-", , , , , ...slotTokens] =
        line.split(" ");
      const port = Number(/:(\d+)@/.exec(address)?.[1] ?? NaN);
      const slots: number[] = [];
      const openSlots: string[] = [];
      for (const token of slotTokens) {
        if (token.startsWith("[")) {
          openSlots.push(token);
          continue;
        }
        const [first, last = first] = token.split("-").map(Number);
        if (first === undefined) continue;
        for (let s = first; s <= (last ?? first); s++) slots.push(s);
      }
      return {
        id,
        port,
        flags: flags.split(","),
        masterId: master === "-" ? null : master,
        slots: slots.sort((a, b) => a - b),
        openSlots,
      };
    });
}

/** A node's CLUSTER NODES, with its own entry picked out. */
async function viewOf(client: Redis, port: number): Promise<NodeView> {
  const entries = parseClusterNodes(String(await client.call("CLUSTER", "NODES")));
  const self = entries.find((e) => e.flags.includes("myself"));
  if (self === undefined) throw new Error(`${port}: CLUSTER NODES has no myself line`);
  return { port, self, entries };
}

/** Ask the node on `port` for its CLUSTER NODES. */
export function nodeView(port: number): Promise<NodeView> {
  return withNode(port, (c) => viewOf(c, port));
}

const isMaster = (e: NodeEntry) => e.flags.includes("master");
/** Flagged as failing, or not yet (or no longer) a proper member of the table. */
const isSuspect = (e: NodeEntry) =>
  e.flags.some((f) => ["fail", "fail?", "handshake", "noaddr"].includes(f));

/** Owner id of every slot in a view ("" for a slot nobody owns). */
function slotOwners(view: NodeView): string[] {
  const owners = new Array<string>(SLOTS).fill("");
  for (const e of view.entries) {
    if (!isMaster(e)) continue;
    for (const s of e.slots) owners[s] = e.id;
  }
  return owners;
}

// ---------------------------------------------------------------------------------------
// Stability
// ---------------------------------------------------------------------------------------

/**
 * Why the cluster is not stable now, or undefined if it is: every live node answers and
 * says cluster_state:ok; no node has open (migrating/importing) slots; every node's table
 * gives each of the 16384 slots the same master, a healthy one; and every node agrees on
 * the role (and the master, for a replica) of every live node.
 */
export async function unstableReason(handle: RedisClusterHandle): Promise<string | undefined> {
  const live = liveServers(handle);
  const views: NodeView[] = [];
  for (const s of live) {
    try {
      const view = await withNode(s.port, async (c) => {
        const info = String(await c.call("CLUSTER", "INFO"));
        const state = /^cluster_state:(\S+)/m.exec(info)?.[1];
        if (state !== "ok") throw new Error(`cluster_state:${state}`);
        return viewOf(c, s.port);
      });
      views.push(view);
    } catch (err) {
      return `${s.port}: ${message(err)}`;
    }
  }

  for (const v of views) {
    if (v.self.openSlots.length > 0) return `${v.port}: open slots ${v.self.openSlots.join(" ")}`;
  }

  const [reference] = views;
  if (reference === undefined) return "no live node";
  const owners = slotOwners(reference);
  const unowned = owners.indexOf("");
  if (unowned >= 0) return `${reference.port}: slot ${unowned} has no master`;
  for (const v of views.slice(1)) {
    const theirs = slotOwners(v);
    const differs = theirs.findIndex((id, slot) => id !== owners[slot]);
    if (differs >= 0) {
      return `slot ${differs}: ${reference.port} says ${owners[differs]}, ${v.port} says ${theirs[differs]}`;
    }
  }

  // Each live node as it sees itself; every other view must agree, and must not suspect it.
  const liveIds = new Set(views.map((v) => v.self.id));
  for (const v of views) {
    for (const them of views) {
      const entry = v.entries.find((e) => e.id === them.self.id);
      if (entry === undefined) return `${v.port} does not know ${them.port}`;
      if (isSuspect(entry)) return `${v.port} flags ${them.port} ${entry.flags.join(",")}`;
      if (isMaster(entry) !== isMaster(them.self) || entry.masterId !== them.self.masterId) {
        return `${v.port} sees ${them.port} as ${entry.flags.join(",")} of ${entry.masterId}`;
      }
    }
    // A slot owner that is not live (a killed master not yet replaced) is not stable.
    const ownerIds = new Set(slotOwners(v));
    for (const id of ownerIds) {
      if (!liveIds.has(id)) return `${v.port}: slots still on ${id}, which is down`;
    }
  }
  return undefined;
}

/** True when the cluster is stable (see unstableReason). */
export async function clusterStable(handle: RedisClusterHandle): Promise<boolean> {
  return (await unstableReason(handle)) === undefined;
}

/**
 * Poll `probe` (undefined = done, else why not) until done; throw with the last reason
 * after `timeoutMs`.
 */
async function pollUntil(
  what: string,
  timeoutMs: number,
  probe: () => Promise<string | undefined>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let reason: string | undefined;
    try {
      reason = await probe();
    } catch (err) {
      reason = message(err);
    }
    if (reason === undefined) return;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms (${reason})`);
    await sleep(POLL_MS);
  }
}

/** Wait until clusterStable(handle); throws with the reason it is not after `timeoutMs`. */
export async function waitClusterStable(
  handle: RedisClusterHandle,
  timeoutMs = 30_000,
): Promise<void> {
  await pollUntil("cluster stable", timeoutMs, () => unstableReason(handle));
}

// ---------------------------------------------------------------------------------------
// Reading the topology
// ---------------------------------------------------------------------------------------

/** Ports of the live nodes that are masters of at least one slot now. */
export async function masterPorts(handle: RedisClusterHandle): Promise<number[]> {
  const [first] = liveServers(handle);
  if (first === undefined) throw new Error("no live node");
  const view = await nodeView(first.port);
  return view.entries
    .filter((e) => isMaster(e) && !isSuspect(e) && e.slots.length > 0)
    .map((e) => e.port)
    .sort((a, b) => a - b);
}

/** Port of the master of `slot` now, as the first live node sees it. */
export async function slotOwnerPort(handle: RedisClusterHandle, slot: number): Promise<number> {
  const [first] = liveServers(handle);
  if (first === undefined) throw new Error("no live node");
  const view = await nodeView(first.port);
  const owner = view.entries.find((e) => isMaster(e) && e.slots.includes(slot));
  if (owner === undefined) throw new Error(`slot ${slot} has no master`);
  return owner.port;
}

/** The node on `port` as it sees itself, which must be a master with slots. */
async function ownMasterView(port: number): Promise<NodeView> {
  const view = await nodeView(port);
  if (!isMaster(view.self) || view.self.slots.length === 0) {
    throw new Error(`${port} is not a master with slots (${view.self.flags.join(",")})`);
  }
  return view;
}

/** The replicas of `master` in `view`, healthy ones only, whose processes are live. */
function replicasIn(view: NodeView, master: NodeEntry, handle: RedisClusterHandle): NodeEntry[] {
  const livePorts = new Set(liveServers(handle).map((s) => s.port));
  return view.entries.filter(
    (e) => e.masterId === master.id && !isSuspect(e) && livePorts.has(e.port),
  );
}

/** The replication fields of INFO replication on `port`. */
async function replicationInfo(port: number): Promise<Map<string, string>> {
  const text = await withNode(port, (c) => c.info("replication"));
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** undefined once the node on `port` is a replica of `masterPort`, linked and synced. */
async function replicaSyncedReason(port: number, masterPort: number): Promise<string | undefined> {
  const r = await replicationInfo(port);
  if (r.get("role") !== "slave") return `${port} is ${r.get("role")}`;
  if (r.get("master_port") !== String(masterPort)) {
    return `${port} replicates ${r.get("master_port")}, not ${masterPort}`;
  }
  if (r.get("master_link_status") !== "up") return `${port}: master link down`;
  if (r.get("master_sync_in_progress") !== "0") return `${port}: still syncing`;
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Planned failover
// ---------------------------------------------------------------------------------------

/** A manual failover gives up after 5 s (CLUSTER_MF_TIMEOUT); then it is asked again. */
const FAILOVER_RESEND_MS = 6000;

/**
 * CLUSTER FAILOVER on a replica of the master listening on `masterPort` (a replica it has
 * now, per CLUSTER NODES). Resolves once the replica is master of all the old master's
 * slots, the old master is its replica (linked and synced), and the cluster is stable.
 */
export async function plannedFailover(
  handle: RedisClusterHandle,
  masterPort: number,
  timeoutMs = 30_000,
): Promise<{ newMasterPort: number }> {
  const view = await ownMasterView(masterPort);
  const [replica] = replicasIn(view, view.self, handle);
  if (replica === undefined) throw new Error(`master ${masterPort} has no healthy replica`);
  const slots = view.self.slots;

  let sentAt = Date.now();
  await withNode(replica.port, (c) => c.call("CLUSTER", "FAILOVER"));
  await pollUntil(`failover of ${masterPort} to ${replica.port}`, timeoutMs, async () => {
    const promoted = await nodeView(replica.port);
    if (!isMaster(promoted.self)) {
      if (Date.now() - sentAt > FAILOVER_RESEND_MS) {
        sentAt = Date.now();
        await withNode(replica.port, (c) => c.call("CLUSTER", "FAILOVER"));
      }
      return `${replica.port} is still a replica`;
    }
    const kept = new Set(promoted.self.slots);
    const missing = slots.find((s) => !kept.has(s));
    if (missing !== undefined) return `${replica.port} does not own slot ${missing}`;
    const old = await nodeView(masterPort);
    if (old.self.masterId !== replica.id) return `${masterPort} is not a replica of it yet`;
    return (await replicaSyncedReason(masterPort, replica.port)) ?? (await unstableReason(handle));
  });
  return { newMasterPort: replica.port };
}

// ---------------------------------------------------------------------------------------
// A master crashes
// ---------------------------------------------------------------------------------------

export interface KillMasterOptions {
  /**
   * Wait first until every replica has replicated all the master has (default true), so
   * the test loses no acknowledged write. False: crash at once, as production would.
   */
  syncReplicasFirst?: boolean;
  /** For the promotion, and for restart() to rejoin. Default 30 s. */
  timeoutMs?: number;
}

export interface KilledMaster {
  /** The replica promoted in its place. */
  newMasterPort: number;
  /** From the SIGKILL to a stable cluster with the slots on the new master. */
  promotedAfterMs: number;
  /**
   * Start the killed process again (same port, dir and nodes.conf) and wait until it is a
   * synced replica of the master that now owns its old slots, in a stable cluster.
   */
  restart: () => Promise<void>;
}

/** Wait until every live replica of `master` has the master's whole replication stream. */
async function waitReplicasCaughtUp(
  master: NodeView,
  replicas: NodeEntry[],
  timeoutMs: number,
): Promise<void> {
  const offset = Number((await replicationInfo(master.port)).get("master_repl_offset"));
  await pollUntil(`replicas of ${master.port} caught up`, timeoutMs, async () => {
    for (const r of replicas) {
      const got = Number((await replicationInfo(r.port)).get("slave_repl_offset"));
      if (!(got >= offset)) return `${r.port} at offset ${got} of ${offset}`;
    }
    return undefined;
  });
}

/**
 * SIGKILL the master listening on `masterPort`; resolves once one of its replicas owns all
 * its slots and the rest of the cluster is stable (ok everywhere, every view agreeing).
 * With cluster-node-timeout 5000 that takes ~6-9 s: 5 s to flag it PFAIL, then the
 * majority's FAIL, then the replica's election delay (0.5-1 s).
 */
export async function killMaster(
  handle: RedisClusterHandle,
  masterPort: number,
  opts: KillMasterOptions = {},
): Promise<KilledMaster> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const server = serverOnPort(handle, masterPort);
  const view = await ownMasterView(masterPort);
  const replicas = replicasIn(view, view.self, handle);
  if (replicas.length === 0) throw new Error(`master ${masterPort} has no replica to promote`);
  if (opts.syncReplicasFirst ?? true) await waitReplicasCaughtUp(view, replicas, timeoutMs);
  const slots = view.self.slots;
  const replicaPorts = new Set(replicas.map((r) => r.port));

  const killedAt = Date.now();
  killed.add(server);
  await server.kill("SIGKILL");

  let newMasterPort = 0;
  await pollUntil(`a replica of ${masterPort} promoted`, timeoutMs, async () => {
    const why = await unstableReason(handle);
    if (why !== undefined) return why;
    // Stable: every view agrees, so any live node's answer is everyone's.
    const owner = await slotOwnerPort(handle, slots[0] ?? 0);
    if (!replicaPorts.has(owner)) return `slot ${slots[0]} on ${owner}, not on a replica`;
    newMasterPort = owner;
    return undefined;
  });
  const promotedAfterMs = Date.now() - killedAt;

  const restart = async () => {
    await server.start();
    killed.delete(server);
    await pollUntil(`${masterPort} back as a replica`, timeoutMs, async () => {
      // Whoever owns its old slots now (the promoted replica, unless it changed since).
      const owner = await slotOwnerPort(handle, slots[0] ?? 0);
      if (owner === masterPort) return `${masterPort} still claims its old slots`;
      return (await replicaSyncedReason(masterPort, owner)) ?? (await unstableReason(handle));
    });
  };
  return { newMasterPort, promotedAfterMs, restart };
}

// ---------------------------------------------------------------------------------------
// Reshard
// ---------------------------------------------------------------------------------------

export interface ReshardOptions {
  /** The master giving the slots. */
  fromPort: number;
  /** The master receiving them. */
  toPort: number;
  /** How many of the source's slots (its lowest), or exactly which ones. */
  slots: number | readonly number[];
  /** Keys per GETKEYSINSLOT + MIGRATE round (redis-cli's --cluster-pipeline). Default 10. */
  keysPerMigrate?: number;
  /** Sleep between two slots (the cluster is stable meanwhile). Default 0. */
  pauseMs?: number;
  /**
   * Sleep while a slot is open (MIGRATING/IMPORTING), after each MIGRATE round: a client
   * then finds its keys split between both nodes and gets ASK redirections. Default 0.
   */
  pauseInSlotMs?: number;
  /** MIGRATE's own timeout. Default 10 s. */
  migrateTimeoutMs?: number;
  /** Retries of a failed command (with a short backoff) before giving up. Default 5. */
  retries?: number;
  /** Stop early: the slot in progress is finished, then the cluster left stable. */
  signal?: AbortSignal;
  /**
   * Called once a slot is MIGRATING on the source and IMPORTING on the target, before any
   * key moves; a returned promise is awaited (the slot stays open meanwhile).
   */
  onSlotOpened?: (slot: number) => void | Promise<void>;
  /** Called once a slot belongs to the target everywhere it was told (awaited too). */
  onSlotMoved?: (slot: number, keysMovedSoFar: number) => void | Promise<void>;
  /** How long to wait for a stable cluster at the end. Default 30 s. */
  stableTimeoutMs?: number;
}

export interface ReshardResult {
  /** The slots that now belong to the target, in the order moved. */
  moved: number[];
  /** Keys MIGRATE moved (those a concurrent client created on the target via ASK excluded). */
  keysMoved: number;
  /** Stopped by the signal before every slot was moved. */
  aborted: boolean;
  /** Failures that a retry got past, e.g. an IOERR of MIGRATE (a timeout). */
  retriedErrors: string[];
}

/** Everything a reshard keeps open for its whole run. */
interface ReshardContext {
  source: Redis;
  target: Redis;
  /** Every other healthy master, also told each slot's new owner. */
  others: Redis[];
  sourceId: string;
  targetId: string;
  targetPort: number;
  opts: ReshardOptions;
  retriedErrors: string[];
}

/**
 * Move slots from the master on `fromPort` to the master on `toPort`, one slot at a time,
 * exactly as `redis-cli --cluster reshard` does:
 *   target: CLUSTER SETSLOT s IMPORTING <source id>
 *   source: CLUSTER SETSLOT s MIGRATING <target id>
 *   source: CLUSTER GETKEYSINSLOT s n, MIGRATE host port "" 0 timeout KEYS k… until empty
 *   target, source, every other master: CLUSTER SETSLOT s NODE <target id>
 * then waits for a stable cluster. Run it in the background by holding the promise; stop
 * it early with `signal`.
 */
export async function reshard(
  handle: RedisClusterHandle,
  opts: ReshardOptions,
): Promise<ReshardResult> {
  const { fromPort, toPort } = opts;
  if (fromPort === toPort) throw new Error("reshard: source and target are the same node");
  const sourceView = await ownMasterView(fromPort);
  const targetView = await nodeView(toPort);
  if (!isMaster(targetView.self)) throw new Error(`reshard: ${toPort} is not a master`);
  const slots = pickSlots(sourceView.self, opts.slots);

  // The other masters, as the source sees them (healthy ones: a dead one cannot be told).
  const livePorts = new Set(liveServers(handle).map((s) => s.port));
  const otherPorts = sourceView.entries
    .filter((e) => isMaster(e) && !isSuspect(e) && livePorts.has(e.port))
    .map((e) => e.port)
    .filter((p) => p !== fromPort && p !== toPort);

  const migrateTimeoutMs = opts.migrateTimeoutMs ?? 10_000;
  // Commands may wait on MIGRATE, which waits on the target: allow for its own timeout.
  const open = (port: number) => nodeClient(port, migrateTimeoutMs + PROBE_TIMEOUT_MS);
  const ctx: ReshardContext = {
    source: open(fromPort),
    target: open(toPort),
    others: otherPorts.map(open),
    sourceId: sourceView.self.id,
    targetId: targetView.self.id,
    targetPort: toPort,
    opts,
    retriedErrors: [],
  };
  const clients = [ctx.source, ctx.target, ...ctx.others];
  const moved: number[] = [];
  let keysMoved = 0;
  try {
    await Promise.all(clients.map((c) => c.connect()));
    for (const slot of slots) {
      if (opts.signal?.aborted) break;
      keysMoved += await moveSlot(ctx, slot);
      moved.push(slot);
      await opts.onSlotMoved?.(slot, keysMoved);
      if (moved.length < slots.length) await pause(opts.pauseMs ?? 0, opts.signal);
    }
  } finally {
    for (const c of clients) c.disconnect();
  }
  await waitClusterStable(handle, opts.stableTimeoutMs ?? 30_000);
  return {
    moved,
    keysMoved,
    aborted: moved.length < slots.length,
    retriedErrors: ctx.retriedErrors,
  };
}

/** The slots to move: the source's lowest `count`, or the listed ones (all its own). */
function pickSlots(source: NodeEntry, wanted: number | readonly number[]): number[] {
  if (typeof wanted === "number") {
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > source.slots.length) {
      throw new Error(`reshard: cannot take ${wanted} of the ${source.slots.length} slots`);
    }
    return source.slots.slice(0, wanted);
  }
  const owned = new Set(source.slots);
  const foreign = wanted.find((s) => !owned.has(s));
  if (foreign !== undefined) throw new Error(`reshard: slot ${foreign} is not the source's`);
  return [...wanted];
}

/** Sleep `ms`, cut short (without throwing) if the signal fires. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 || signal?.aborted) return;
  await sleep(ms, undefined, { signal }).catch(() => {});
}

/** A failure that retrying cannot fix. */
class NotRetriable extends Error {}

/** Run a command, retrying it on failure; the failures a retry got past are recorded. */
async function retried<T>(ctx: ReshardContext, what: string, run: () => Promise<T>): Promise<T> {
  const retries = ctx.opts.retries ?? 5;
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (err instanceof NotRetriable || attempt >= retries) {
        throw new Error(`${what}: ${message(err)}`, { cause: err });
      }
      ctx.retriedErrors.push(`${what}: ${message(err)}`);
      await sleep(50 * (attempt + 1));
    }
  }
}

/** Open the slot, move its keys, and give it to the target; returns the keys moved. */
async function moveSlot(ctx: ReshardContext, slot: number): Promise<number> {
  const { source, target, sourceId, targetId } = ctx;
  await retried(ctx, `SETSLOT ${slot} IMPORTING`, () =>
    target.call("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceId),
  );
  await retried(ctx, `SETSLOT ${slot} MIGRATING`, () =>
    source.call("CLUSTER", "SETSLOT", slot, "MIGRATING", targetId),
  );
  await ctx.opts.onSlotOpened?.(slot);
  let keys: number;
  try {
    keys = await migrateKeys(ctx, slot);
  } catch (err) {
    throw new Error(`${message(err)}; ${await abandonSlot(ctx, slot)}`, { cause: err });
  }
  // Target first: should the source then fail, the target still owns the slot (and all
  // its keys), and the source redirects to it.
  await retried(ctx, `SETSLOT ${slot} NODE (target)`, () =>
    target.call("CLUSTER", "SETSLOT", slot, "NODE", targetId),
  );
  await retried(ctx, `SETSLOT ${slot} NODE (source)`, () =>
    source.call("CLUSTER", "SETSLOT", slot, "NODE", targetId),
  );
  await Promise.all(
    ctx.others.map((c) =>
      retried(ctx, `SETSLOT ${slot} NODE (other master)`, () =>
        c.call("CLUSTER", "SETSLOT", slot, "NODE", targetId),
      ),
    ),
  );
  return keys;
}

/**
 * GETKEYSINSLOT + MIGRATE rounds until the source holds no key of the slot (it cannot gain
 * any meanwhile: for a key it does not have, a MIGRATING node answers ASK). Keys are read
 * and passed as Buffers, so that binary key names survive.
 */
async function migrateKeys(ctx: ReshardContext, slot: number): Promise<number> {
  const { source, opts } = ctx;
  const perRound = opts.keysPerMigrate ?? 10;
  let moved = 0;
  for (;;) {
    const batch = (await retried(ctx, `GETKEYSINSLOT ${slot}`, () =>
      source.callBuffer("CLUSTER", "GETKEYSINSLOT", slot, perRound),
    )) as Buffer[];
    if (batch.length === 0) return moved;
    // "NOKEY" if all of them were deleted meanwhile: nothing moved.
    const reply = await retried(ctx, `MIGRATE slot ${slot}`, () => migrateBatch(ctx, batch));
    if (reply === "OK") moved += batch.length;
    await pause(opts.pauseInSlotMs ?? 0, opts.signal);
  }
}

/**
 * One MIGRATE of `batch`. A MIGRATE that timed out (IOERR) may still have reached the
 * target, which then holds the keys too, and the next MIGRATE fails with BUSYKEY; as
 * redis-cli does, if every such key has the same value on both sides (DUMP compared: the
 * copy was restored from the same payload) it is sent again with REPLACE; else it throws.
 */
async function migrateBatch(ctx: ReshardContext, batch: Buffer[]): Promise<unknown> {
  const timeout = ctx.opts.migrateTimeoutMs ?? 10_000;
  const migrate = (...replace: string[]) =>
    ctx.source.call(
      "MIGRATE",
      "127.0.0.1",
      ctx.targetPort,
      "",
      0,
      timeout,
      ...replace,
      "KEYS",
      ...batch,
    );
  try {
    return await migrate();
  } catch (err) {
    if (!message(err).includes("BUSYKEY")) throw err;
    for (const key of batch) {
      // A MIGRATING source answers ASK for a key it no longer has.
      const here = await ctx.source.dumpBuffer(key).catch((e: unknown) => {
        if (message(e).startsWith("ASK ")) return null;
        throw e;
      });
      // The slot is IMPORTING on the target: only a command after ASKING is served there.
      const there = (await ctx.target.pipeline().asking().dumpBuffer(key).exec())?.[1];
      if (there?.[0]) throw there[0];
      const theirs = there?.[1];
      if (here === null || theirs === null) continue;
      if (!Buffer.isBuffer(theirs) || !here.equals(theirs)) {
        throw new NotRetriable(`key ${key.toString()} differs between source and target`);
      }
    }
    ctx.retriedErrors.push(`${message(err)} (same values on both sides: sent again with REPLACE)`);
    return migrate("REPLACE");
  }
}

/**
 * After MIGRATE kept failing: if no key reached the target, close the slot on both sides
 * (the source keeps it, the cluster is stable again); else leave it open for a person or
 * `redis-cli --cluster fix` to finish. Returns what it did, for the error message.
 */
async function abandonSlot(ctx: ReshardContext, slot: number): Promise<string> {
  try {
    const onTarget = Number(await ctx.target.call("CLUSTER", "COUNTKEYSINSLOT", slot));
    if (onTarget > 0) return `slot ${slot} left open: ${onTarget} keys already on the target`;
    await ctx.target.call("CLUSTER", "SETSLOT", slot, "STABLE");
    await ctx.source.call("CLUSTER", "SETSLOT", slot, "STABLE");
    return `slot ${slot} closed, still on the source`;
  } catch (err) {
    return `slot ${slot} left open: ${message(err)}`;
  }
}
