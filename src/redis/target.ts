import calculateSlot from "cluster-key-slot";
import type { Cluster, Redis } from "ioredis";
import { groupIndexes } from "../groupIndexes.js";
import { defineScripts } from "./scripts.js";

/** One master and the client that talks to it directly (SCAN is per node state). */
export interface MasterNode {
  /** Stable identity for checkpoints: the cluster node ID, or "standalone". */
  id: string;
  /** host:port, for logs. */
  address: string;
  /**
   * The server process's run_id. It changes on every restart, and with it the hash seed
   * and table layout: a SCAN cursor saved before a restart means nothing after it.
   */
  serverRunId: string;
  client: Redis;
}

async function serverRunId(client: Redis): Promise<string> {
  const info = await client.info("server");
  return /run_id:(\w+)/.exec(info)?.[1] ?? "unknown";
}

/** Sends each key to the node that should serve it (a master, or a replica of it). */
export interface KeyRouter {
  /** Indexes of `keys` grouped by the client to send them to. */
  groupByNode(keys: Buffer[]): Map<Redis, number[]>;
}

/**
 * A connected deployment: a single instance or a Cluster. `client` routes commands by
 * key (on a Cluster, to the slot's master); `masters()` lists the nodes to SCAN.
 */
export class RedisTarget implements KeyRouter {
  private constructor(
    readonly kind: "single" | "cluster",
    readonly client: Redis | Cluster,
    /** Redacted endpoint, safe for output. */
    readonly where: string,
  ) {}

  static single(client: Redis, where: string): RedisTarget {
    return new RedisTarget("single", client, where);
  }

  static cluster(client: Cluster, where: string): RedisTarget {
    return new RedisTarget("cluster", client, where);
  }

  get isCluster(): boolean {
    return this.kind === "cluster";
  }

  /** The masters as the topology reports them now; on a Cluster each is asked its ID. */
  async masters(): Promise<MasterNode[]> {
    if (this.kind === "single") {
      const client = this.client as Redis;
      // Through Sentinel, options.host/port are ioredis's defaults: the master is where the
      // live connection goes (after a failover, the new master).
      const address = client.options.sentinels
        ? `${client.stream?.remoteAddress}:${client.stream?.remotePort}`
        : `${client.options.host}:${client.options.port}`;
      return [{ id: "standalone", address, serverRunId: await serverRunId(client), client }];
    }
    const nodes = (this.client as Cluster).nodes("master");
    for (const n of nodes) defineScripts(n);
    const masters = await Promise.all(
      nodes.map(async (client) => ({
        id: String(await client.call("CLUSTER", "MYID")),
        address: `${client.options.host}:${client.options.port}`,
        serverRunId: await serverRunId(client),
        client,
      })),
    );
    return masters.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * The master client serving a key's slot, from the Cluster's slot map: lets a caller
   * send one script per node for keys of many slots (the single instance: itself).
   */
  nodeForKey(key: Buffer): Redis {
    if (this.kind === "single") return this.client as Redis;
    const cluster = this.client as Cluster;
    const owner = cluster.slots[calculateSlot(key)]?.[0];
    let node = owner === undefined ? undefined : this.nodesByAddress().get(owner);
    if (!node && owner !== undefined) {
      // A master new since the map was built (a promoted replica): build it again.
      this.forgetNodes();
      node = this.nodesByAddress().get(owner);
    }
    if (!node) throw new Error(`no master serves the slot of a key (slot ${calculateSlot(key)})`);
    return node;
  }

  /** Indexes of `keys` grouped by the master serving each (one group on a single instance). */
  groupByNode(keys: Buffer[]): Map<Redis, number[]> {
    return groupIndexes(keys, (k) => this.nodeForKey(k));
  }

  private byAddress: Map<string, Redis> | undefined;

  /** After a topology change: the next nodeForKey() reads the masters afresh. */
  forgetNodes(): void {
    this.byAddress = undefined;
  }

  private nodesByAddress(): Map<string, Redis> {
    const nodes = (this.client as Cluster).nodes("master");
    if (!this.byAddress || this.byAddress.size !== nodes.length) {
      this.byAddress = new Map();
      for (const n of nodes) {
        defineScripts(n);
        this.byAddress.set(`${n.options.host}:${n.options.port}`, n);
      }
    }
    return this.byAddress;
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
