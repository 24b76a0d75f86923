/**
 * A real Redis Cluster built in code from `redis-server` processes (masters, and optionally
 * replicas of each), ready for a fresh ioredis `Cluster` client, and for reads on the
 * replicas, the moment startRedisCluster() resolves.
 */
import calculateSlot from "cluster-key-slot";
import { Redis } from "ioredis";
import { setTimeout as sleep } from "node:timers/promises";
import { findFreePort, HOST, startRedisServer } from "./redisServer.js";
import type { RedisServerHandle } from "./redisServer.js";

export interface RedisClusterOptions {
  /** Number of masters, each owning an even share of the 16384 slots. Default 3. */
  masters?: number;
  /** Replicas of each master (CLUSTER REPLICATE), synced before start resolves. Default 0. */
  replicas?: number;
  /** Keep data across a node's kill()/start() (append-only file), for restart tests. */
  persist?: boolean;
  /**
   * cluster-node-timeout in ms (default 5000): how long a silent master takes to be
   * failed over to its replica. Fault tests use less to wait less.
   */
  nodeTimeoutMs?: number;
  /** Require this password on every node (requirepass + masterauth). */
  password?: string;
}

export interface RedisClusterHandle {
  /** The masters' addresses (replicas are not in it). */
  readonly nodes: { host: string; port: number }[];
  /** `redis://127.0.0.1:<first master's port>`: any node is enough to discover the rest. */
  readonly url: string;
  /** The master processes, for fault tests (kill a master, restart it). */
  readonly servers: RedisServerHandle[];
  /** Every replica process, grouped by master in the order of `servers` ([] by default). */
  readonly replicaServers: RedisServerHandle[];
  /**
   * The replicas of each master, keyed by the master's port (every master has an entry).
   * The roles at start: a failover afterwards does not update it.
   */
  readonly replicasOf: ReadonlyMap<number, readonly RedisServerHandle[]>;
  /** Stops every node, masters and replicas. */
  stop(): Promise<void>;
}

const SLOTS = 16384;
const FORM_TIMEOUT_MS = 30_000;

interface ClusterNode {
  server: RedisServerHandle;
  busPort: number;
}

/** What every node must agree on before the cluster is ready. */
interface Topology {
  /** Each node's id (CLUSTER MYID) and port; a replica's master by id. */
  masters: { id: string; port: number }[];
  replicas: { id: string; port: number; masterId: string }[];
}

/**
 * Start the nodes, split the slots over the masters, MEET everyone, attach the replicas,
 * and wait until every node agrees (and every replica has synced). With replicas, each
 * master has run one SET and DEL of a `jobs-migrate-harness:{n}` key, and each replica one
 * PUBLISH, by then (see announceReplicas): the data set is still empty.
 */
export async function startRedisCluster(
  opts: RedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 0;
  if (!Number.isInteger(masters) || masters < 1) throw new Error(`bad masters: ${masters}`);
  if (!Number.isInteger(replicas) || replicas < 0) throw new Error(`bad replicas: ${replicas}`);

  // Masters first, then the replicas of master 0, of master 1, …
  const started = await Promise.allSettled(
    Array.from({ length: masters * (1 + replicas) }, () => startNode(opts, replicas > 0)),
  );
  const nodes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = started.find((r) => r.status === "rejected");
  if (failed !== undefined) {
    await Promise.all(nodes.map((n) => n.server.stop()));
    throw failed.reason;
  }
  const masterNodes = nodes.slice(0, masters);
  const replicaNodes = nodes.slice(masters);
  // Replicas first: a master then has no replica left to wait for on SIGTERM.
  const stopAll = async () => {
    await Promise.all(replicaNodes.map((n) => n.server.stop()));
    await Promise.all(masterNodes.map((n) => n.server.stop()));
  };
  const masterOf = (replica: number) => Math.floor(replica / replicas);

  const clients = nodes.map(
    (n) => new Redis({ host: HOST, port: n.server.port, password: opts.password }),
  );
  const masterClients = clients.slice(0, masters);
  const replicaClients = clients.slice(masters);
  try {
    const ids = await Promise.all(
      clients.map(async (c) => String(await c.call("CLUSTER", "MYID"))),
    );
    const topology: Topology = {
      masters: masterNodes.map((n, i) => ({ id: at(ids, i), port: n.server.port })),
      replicas: replicaNodes.map((n, j) => ({
        id: at(ids, masters + j),
        port: n.server.port,
        masterId: at(ids, masterOf(j)),
      })),
    };
    // Distinct epochs before MEET (as `redis-cli --cluster create` does), so the nodes
    // need not settle epoch collisions among themselves first.
    await Promise.all(clients.map((c, i) => c.call("CLUSTER", "SET-CONFIG-EPOCH", i + 1)));
    await Promise.all(
      masterClients.map((c, i) => c.call("CLUSTER", "ADDSLOTSRANGE", ...slotRange(i, masters))),
    );
    const introducer = at(masterClients, 0);
    for (const { server, busPort } of masterNodes.slice(1)) {
      await introducer.call("CLUSTER", "MEET", HOST, server.port, busPort);
    }
    // Each replica meets its own master, so it learns the id to replicate soonest; gossip
    // introduces it to the others.
    await Promise.all(
      replicaClients.map((c, j) => {
        const { server, busPort } = at(masterNodes, masterOf(j));
        return c.call("CLUSTER", "MEET", HOST, server.port, busPort);
      }),
    );
    const deadline = Date.now() + FORM_TIMEOUT_MS;
    await Promise.all(
      replicaClients.map((c, j) => replicate(c, at(topology.replicas, j).masterId, deadline)),
    );
    if (replicas > 0) await announceReplicas(masterClients, replicaClients, replicas, deadline);
    await waitUntilFormed(clients, topology, deadline);
  } catch (err) {
    // Disconnected first, or the clients would report every refused reconnection.
    for (const c of clients) c.disconnect();
    await stopAll();
    throw err;
  } finally {
    for (const c of clients) c.disconnect();
  }

  const servers = masterNodes.map((n) => n.server);
  const replicaServers = replicaNodes.map((n) => n.server);
  const replicasOf = new Map(
    servers.map((s, i) => [s.port, replicaServers.slice(i * replicas, (i + 1) * replicas)]),
  );
  return {
    nodes: servers.map((s) => ({ host: s.host, port: s.port })),
    url: at(servers, 0).url,
    servers,
    replicaServers,
    replicasOf,
    stop: stopAll,
  };
}

async function startNode(opts: RedisClusterOptions, withReplicas: boolean): Promise<ClusterNode> {
  const auth = opts.password ? ["--requirepass", opts.password, "--masterauth", opts.password] : [];
  for (let attempt = 1; ; attempt++) {
    // An explicit bus port: the default (port + 10000) overflows for ports above 55535.
    const busPort = await findFreePort();
    try {
      const server = await startRedisServer({
        persist: opts.persist,
        extraArgs: [
          ...auth,
          ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
          ...["--cluster-node-timeout", String(opts.nodeTimeoutMs ?? 5000)],
          ...["--cluster-port", String(busPort)],
          // Without it a node learns its own address late and CLUSTER SLOTS may report "".
          ...["--cluster-announce-ip", HOST],
          // A full sync starts at once instead of waiting 5 s for more replicas to ask.
          ...(withReplicas ? ["--repl-diskless-sync-delay", "0"] : []),
        ],
      });
      return { server, busPort };
    } catch (err) {
      // Someone took the bus port between findFreePort and bind (startRedisServer only
      // retries the client port): pick another.
      if (!/Failed listening on port \d+ \(cluster\)/.test(String(err)) || attempt >= 3) throw err;
    }
  }
}

/** CLUSTER REPLICATE, retried until the replica has learnt its master from the MEET. */
async function replicate(client: Redis, masterId: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      await client.call("CLUSTER", "REPLICATE", masterId);
      return;
    } catch (err) {
      if (!/unknown node/i.test(String(err)) || Date.now() > deadline) throw err;
    }
    await sleep(20);
  }
}

/**
 * Wait for every replica's initial sync, then make sure every node soon lists it in CLUSTER
 * SLOTS: a node lists a replica only once it has heard from it a replication offset other
 * than 0. A write on each master moves the offsets off 0 (else its first PING to the
 * replicas does, 10 s later), and a PUBLISH on each replica, sent over the cluster bus to
 * every node, carries its offset to all at once (else gossip does, within node-timeout/2).
 */
async function announceReplicas(
  masterClients: Redis[],
  replicaClients: Redis[],
  replicas: number,
  deadline: number,
): Promise<void> {
  const synced = async (c: Redis) => {
    const replication = await c.info("replication");
    return (
      /^master_link_status:up\r?$/m.test(replication) &&
      /^master_sync_in_progress:0\r?$/m.test(replication)
    );
  };
  // Its replicas online (so WAIT counts them), and itself serving its slots (so the write
  // is not refused: a fresh master waits ~2 s before it declares cluster_state:ok).
  const ready = async (c: Redis) => {
    const replication = await c.info("replication");
    const online = replication.match(/^slave\d+:.*state=online/gm) ?? [];
    if (online.length !== replicas) return false;
    return /^cluster_state:ok\r?$/m.test(String(await c.call("CLUSTER", "INFO")));
  };
  for (;;) {
    const views = await Promise.all([...replicaClients.map(synced), ...masterClients.map(ready)]);
    if (views.every(Boolean)) break;
    if (Date.now() > deadline) throw new Error(`replicas not synced in ${FORM_TIMEOUT_MS} ms`);
    await sleep(25);
  }
  const masters = masterClients.length;
  await Promise.all(
    masterClients.map(async (c, i) => {
      const key = keyInSlots(...slotRange(i, masters));
      await c.set(key, "1");
      await c.del(key);
      // On the connection that wrote: it returns once every replica has the DEL.
      const acked = Number(await c.call("WAIT", replicas, Math.max(1, deadline - Date.now())));
      if (acked !== replicas) throw new Error(`only ${acked} of ${replicas} replicas acked`);
    }),
  );
  await Promise.all(
    replicaClients.map((c) => c.publish("jobs-migrate-harness:replica-ready", "1")),
  );
}

/** The first and last slot of master `i`: an even share of the 16384. */
function slotRange(i: number, masters: number): [number, number] {
  return [Math.floor((i * SLOTS) / masters), Math.floor(((i + 1) * SLOTS) / masters) - 1];
}

/** A key of a slot in [first, last], for a write on the master that owns them. */
function keyInSlots(first: number, last: number): string {
  for (let n = 0; ; n++) {
    const key = `jobs-migrate-harness:{${n}}`;
    const slot = calculateSlot(key);
    if (slot >= first && slot <= last) return key;
  }
}

/**
 * Every node must say cluster_state:ok, know every node in its role and all 16384 slots,
 * hold no peer still in handshake, and list every replica in CLUSTER SLOTS; every replica
 * must have synced. Otherwise a fresh client could map a slot to nobody, or miss a replica.
 */
async function waitUntilFormed(
  clients: Redis[],
  topology: Topology,
  deadline: number,
): Promise<void> {
  for (;;) {
    const views = await Promise.all(clients.map((c, i) => isFormed(c, i, topology)));
    const pending = views.filter((v) => v !== true);
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`cluster not formed in ${FORM_TIMEOUT_MS} ms: ${pending.join("; ")}`);
    }
    await sleep(50);
  }
}

/** true, or why node `index` (of masters then replicas) is not ready yet. */
async function isFormed(client: Redis, index: number, topology: Topology): Promise<true | string> {
  const { masters, replicas } = topology;
  const port = at([...masters, ...replicas], index).port;
  const info = String(await client.call("CLUSTER", "INFO"));
  const field = (name: string) => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1];
  if (field("cluster_state") !== "ok") return `${port}: cluster_state ${field("cluster_state")}`;
  if (Number(field("cluster_known_nodes")) !== masters.length + replicas.length) {
    return `${port}: knows ${field("cluster_known_nodes")} nodes`;
  }
  if (Number(field("cluster_slots_ok")) !== SLOTS) return `${port}: slots not all ok`;

  const table = String(await client.call("CLUSTER", "NODES"));
  if (/handshake|noaddr|fail/.test(table)) return `${port}: a peer in handshake/noaddr/fail`;
  // <id> <ip:port@bus> <flags> <master id or -> …
  const known = new Map(
    table
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        const [id, , flags = "", master] = line.split(" ");
        return [id, { roles: flags.split(","), master }];
      }),
  );
  for (const m of masters) {
    if (!known.get(m.id)?.roles.includes("master")) return `${port}: ${m.port} not a master yet`;
  }
  for (const r of replicas) {
    const view = known.get(r.id);
    if (!view?.roles.includes("slave") || view.master !== r.masterId) {
      return `${port}: ${r.port} not a replica of its master yet`;
    }
  }

  // A replica shows in CLUSTER SLOTS only once this node has heard it has synced.
  const slots = (await client.call("CLUSTER", "SLOTS")) as [number, number, ...unknown[][]][];
  const portOf = (node: unknown[]) => Number(node[1]);
  for (const m of masters) {
    const expected = replicas.filter((r) => r.masterId === m.id).map((r) => r.port);
    const ranges = slots.filter(([, , owner]) => portOf(owner ?? []) === m.port);
    if (ranges.length === 0) return `${port}: no slots for ${m.port}`;
    for (const [, , , ...listed] of ranges) {
      const got = listed.map(portOf).sort((a, b) => a - b);
      if (got.join() !== expected.sort((a, b) => a - b).join()) {
        return `${port}: CLUSTER SLOTS lists replicas [${got}] for ${m.port}`;
      }
    }
  }

  if (replicas.length === 0) return true;
  const replication = await client.info("replication");
  if (index >= masters.length) {
    if (!replication.includes("master_link_status:up")) return `${port}: master link down`;
    if (!replication.includes("master_sync_in_progress:0")) return `${port}: still syncing`;
  } else {
    // Online on the master too, so WAIT counts it.
    const online = replication.match(/^slave\d+:.*state=online/gm) ?? [];
    const expected = replicas.filter((r) => r.masterId === at(masters, index).id).length;
    if (online.length !== expected) return `${port}: ${online.length} replicas online`;
  }
  return true;
}

/** xs[i], which the caller knows is there (a bug otherwise, said loudly). */
function at<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new Error(`no element ${i} of ${xs.length}`);
  return x;
}
