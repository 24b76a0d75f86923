import type { Cluster, Redis } from "ioredis";

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

/**
 * A connected deployment: a single instance or a Cluster. `client` routes commands by
 * key (on a Cluster, to the slot's master); `masters()` lists the nodes to SCAN.
 */
export class RedisTarget {
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
      const address = `${client.options.host}:${client.options.port}`;
      return [{ id: "standalone", address, serverRunId: await serverRunId(client), client }];
    }
    const nodes = (this.client as Cluster).nodes("master");
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

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
