/**
 * A real Redis Cluster built in code from `redis-server` processes (masters only), ready for
 * a fresh ioredis `Cluster` client the moment startRedisCluster() resolves.
 */
import { Redis } from "ioredis";
import { setTimeout as sleep } from "node:timers/promises";
import { findFreePort, HOST, startRedisServer } from "./redisServer.js";
import type { RedisServerHandle } from "./redisServer.js";

export interface RedisClusterOptions {
  /** Number of masters, each owning an even share of the 16384 slots. Default 3. */
  masters?: number;
  /** Keep data across a node's kill()/start() (append-only file), for restart tests. */
  persist?: boolean;
  /** Require this password on every node (requirepass + masterauth). */
  password?: string;
}

export interface RedisClusterHandle {
  readonly nodes: { host: string; port: number }[];
  /** `redis://127.0.0.1:<first node's port>`: any node is enough to discover the rest. */
  readonly url: string;
  /** The node processes, for fault tests (kill a master, restart it). */
  readonly servers: RedisServerHandle[];
  stop(): Promise<void>;
}

const SLOTS = 16384;
const FORM_TIMEOUT_MS = 30_000;

interface ClusterNode {
  server: RedisServerHandle;
  busPort: number;
}

/** Start the masters, split the slots, MEET them, and wait until every node agrees. */
export async function startRedisCluster(
  opts: RedisClusterOptions = {},
): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 1) throw new Error(`bad masters: ${masters}`);

  const started = await Promise.allSettled(Array.from({ length: masters }, () => startNode(opts)));
  const nodes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const stopAll = () => Promise.all(nodes.map((n) => n.server.stop())).then(() => undefined);
  const failed = started.find((r) => r.status === "rejected");
  if (failed !== undefined) {
    await stopAll();
    throw failed.reason;
  }

  const clients = nodes.map(
    (n) => new Redis({ host: HOST, port: n.server.port, password: opts.password }),
  );
  try {
    // Distinct epochs before MEET (as `redis-cli --cluster create` does), so the nodes
    // need not settle epoch collisions among themselves first.
    await Promise.all(clients.map((c, i) => c.call("CLUSTER", "SET-CONFIG-EPOCH", i + 1)));
    await Promise.all(
      clients.map((c, i) => {
        const first = Math.floor((i * SLOTS) / masters);
        const last = Math.floor(((i + 1) * SLOTS) / masters) - 1;
        return c.call("CLUSTER", "ADDSLOTSRANGE", first, last);
      }),
    );
    const [introducer] = clients;
    for (const { server, busPort } of nodes.slice(1)) {
      await introducer.call("CLUSTER", "MEET", HOST, server.port, busPort);
    }
    await waitUntilFormed(clients, masters);
  } catch (err) {
    await stopAll();
    throw err;
  } finally {
    for (const c of clients) c.disconnect();
  }

  const servers = nodes.map((n) => n.server);
  return {
    nodes: servers.map((s) => ({ host: s.host, port: s.port })),
    url: servers[0].url,
    servers,
    stop: stopAll,
  };
}

async function startNode(opts: RedisClusterOptions): Promise<ClusterNode> {
  // An explicit bus port: the default (port + 10000) overflows for ports above 55535.
  const busPort = await findFreePort();
  const auth = opts.password ? ["--requirepass", opts.password, "--masterauth", opts.password] : [];
  const server = await startRedisServer({
    persist: opts.persist,
    extraArgs: [
      ...auth,
      ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
      ...["--cluster-node-timeout", "5000", "--cluster-port", String(busPort)],
      // Without it a node learns its own address late and CLUSTER SLOTS may report "".
      ...["--cluster-announce-ip", HOST],
    ],
  });
  return { server, busPort };
}

/**
 * Every node must say cluster_state:ok, know all masters and all 16384 slots, and hold no
 * peer still in handshake: otherwise a fresh client could map a slot to nobody.
 */
async function waitUntilFormed(clients: Redis[], masters: number): Promise<void> {
  const deadline = Date.now() + FORM_TIMEOUT_MS;
  for (;;) {
    const views = await Promise.all(clients.map((c) => isFormed(c, masters)));
    if (views.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`cluster not formed in ${FORM_TIMEOUT_MS} ms`);
    await sleep(50);
  }
}

async function isFormed(client: Redis, masters: number): Promise<boolean> {
  const info = String(await client.call("CLUSTER", "INFO"));
  const field = (name: string) => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1];
  if (field("cluster_state") !== "ok") return false;
  if (Number(field("cluster_known_nodes")) !== masters) return false;
  if (Number(field("cluster_slots_ok")) !== SLOTS) return false;
  const table = String(await client.call("CLUSTER", "NODES"));
  return !/handshake|noaddr|fail/.test(table);
}
