import { Redis } from "ioredis";
import type { Cluster } from "ioredis";
import { defineScripts } from "./scripts.js";
import { settleStashedOnEnd } from "./stashedCommands.js";
import type { KeyRouter, RedisTarget } from "./target.js";

/** How long a batch waits for a replica to catch up before reading its master instead. */
const CATCH_UP_MS = 200;
/** A replica that did not catch up is not waited for again (its master is read) this long. */
const BENCH_MS = 5000;

/** How long opening a replica's connection (connect, then its ready check) may take. */
const CONNECT_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

interface ReplicaLink {
  master: Redis;
  replica: Redis;
}

/**
 * Reads routed to replicas (one per master: a single instance's, or each Cluster master's
 * first), each fresh enough to use: before a batch, every replica must have applied all
 * its master had written when the batch began (ROLE offsets). So what a replica shows is
 * no older than what reading the masters one after the other would show; a replica that
 * does not catch up within 200 ms is skipped, and its master read, for the next 5 s.
 */
export class ReplicaReads {
  private constructor(
    private readonly links: ReplicaLink[],
    private readonly catchUpMs: number,
  ) {}

  /** When each lagging replica may be tried again. */
  private readonly benchedUntil = new Map<Redis, number>();

  /** Connect to the replicas the topology reports online; undefined when there are none. */
  static async open(
    target: RedisTarget,
    catchUpMs = CATCH_UP_MS,
  ): Promise<ReplicaReads | undefined> {
    const found = target.isCluster
      ? clusterReplicas(target.client as Cluster)
      : await singleReplica(target.client as Redis);
    const links = await Promise.all(
      found.map(async ({ master, host, port }) => {
        const replica = settleStashedOnEnd(
          new Redis({
            ...master.options,
            host,
            port,
            // A master found through Sentinel: its replica is reached directly, at the
            // address the master reports (with the Sentinels, ioredis would open the master).
            sentinels: undefined,
            lazyConnect: true,
            readOnly: target.isCluster,
          }),
        );
        replica.on("error", () => undefined);
        try {
          // A replica busy or unreachable at the start is not waited for: its master serves.
          await withTimeout(replica.connect(), CONNECT_MS);
          defineScripts(replica);
          return [{ master, replica }];
        } catch {
          replica.disconnect();
          return [];
        }
      }),
    );
    const flat = links.flat();
    return flat.length ? new ReplicaReads(flat, catchUpMs) : undefined;
  }

  /** The replicas read, as host:port. */
  get addresses(): string[] {
    return this.links.map((l) => `${l.replica.options.host}:${l.replica.options.port}`);
  }

  /**
   * Where to read this batch: each master's replica once it has caught up with where its
   * master was a moment ago, else the master itself.
   */
  async view(): Promise<ReadView> {
    const swap = new Map<Redis, Redis>();
    await Promise.all(
      this.links.map(async ({ master, replica }) => {
        if ((this.benchedUntil.get(replica) ?? 0) > Date.now()) return;
        if (await caughtUp(master, replica, this.catchUpMs)) swap.set(master, replica);
        else this.benchedUntil.set(replica, Date.now() + BENCH_MS);
      }),
    );
    return new ReadView(swap);
  }

  close(): void {
    for (const l of this.links) l.replica.disconnect();
  }
}

/** One batch's routing: a master's keys go to its replica where the replica is fresh. */
export class ReadView {
  constructor(private readonly swap: Map<Redis, Redis>) {}

  /** The client to read a master's keys on. */
  clientFor(master: Redis): Redis {
    return this.swap.get(master) ?? master;
  }

  /** Route by master (RedisTarget.groupByNode), then to the fresh replicas. */
  router(target: KeyRouter): KeyRouter {
    return {
      groupByNode: (keys) => {
        const out = new Map<Redis, number[]>();
        for (const [master, idx] of target.groupByNode(keys)) out.set(this.clientFor(master), idx);
        return out;
      },
    };
  }
}

/** ROLE: a master's write offset, or the offset a replica has applied (-1 when unlinked). */
async function offsetOf(client: Redis): Promise<number> {
  const role = (await client.call("ROLE")) as unknown[];
  return Number(role[0] === "master" ? role[1] : role[4]);
}

async function caughtUp(master: Redis, replica: Redis, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  try {
    const target = await offsetOf(master);
    // A busy replica may not answer at all: it is not waited for past the deadline.
    while (Date.now() < deadline) {
      if ((await withTimeout(offsetOf(replica), deadline - Date.now())) >= target) return true;
      await new Promise((r) => setTimeout(r, 2));
    }
  } catch {
    // A replica that cannot answer (in time) is not read this batch.
  }
  return false;
}

interface Found {
  master: Redis;
  host: string;
  port: number;
}

/** The first online replica of a single instance, from INFO replication. */
async function singleReplica(master: Redis): Promise<Found[]> {
  const info = await master.info("replication");
  const m = /^slave\d+:ip=([^,]+),port=(\d+),state=online/m.exec(info);
  return m ? [{ master, host: m[1]!, port: Number(m[2]) }] : [];
}

/** Each master's first replica, from the Cluster client's slot map ([master, replica…]). */
function clusterReplicas(cluster: Cluster): Found[] {
  const masters = new Map(cluster.nodes("master").map((n) => [addressOf(n), n]));
  const found = new Map<string, Found>();
  for (const owners of cluster.slots) {
    const [masterAddress, replicaAddress] = owners ?? [];
    const master = masterAddress ? masters.get(masterAddress) : undefined;
    if (!master || !replicaAddress || found.has(masterAddress!)) continue;
    const at = replicaAddress.lastIndexOf(":");
    found.set(masterAddress!, {
      master,
      host: replicaAddress.slice(0, at),
      port: Number(replicaAddress.slice(at + 1)),
    });
  }
  return [...found.values()];
}

const addressOf = (n: Redis) => `${n.options.host}:${n.options.port}`;
