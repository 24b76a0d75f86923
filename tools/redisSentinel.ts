/**
 * A real Redis Sentinel deployment for tests: one master, two replicas (REPLICAOF) and three
 * Sentinels (`redis-server <conf> --sentinel`, quorum 2), every one a redis-server of
 * tools/redisServer.ts on a free port of 127.0.0.1, so each dies with the test process too.
 * startRedisSentinel() resolves once the replicas have synced and every Sentinel names the
 * master, sees both replicas and the two other Sentinels, and can reach its quorum.
 */
import { Redis } from "ioredis";
import { setTimeout as sleep } from "node:timers/promises";
import { HOST, startRedisServer } from "./redisServer.js";
import type { RedisServerHandle } from "./redisServer.js";

export interface RedisSentinelOptions {
  /**
   * Require this password on the master and replicas (requirepass + masterauth); the
   * Sentinels are given it (`sentinel auth-pass`). Also the Sentinels' own password unless
   * `sentinelPassword` says otherwise.
   */
  password?: string;
  /** Require this password on the Sentinels (requirepass + `sentinel sentinel-pass`). */
  sentinelPassword?: string;
  /** The name the Sentinels monitor the master under. Default "mymaster". */
  masterName?: string;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface RedisSentinelHandle {
  readonly masterName: string;
  /** The three Sentinels' addresses. */
  readonly sentinels: HostPort[];
  /** `redis+sentinel://127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>/<masterName>`, no credentials. */
  readonly url: string;
  /** The data nodes: the first master, then its two replicas (failover() changes the roles). */
  readonly servers: RedisServerHandle[];
  /** The Sentinel processes. */
  readonly sentinelServers: RedisServerHandle[];
  /** The master as a Sentinel reports it now (the first Sentinel that answers). */
  master(): Promise<HostPort>;
  /**
   * SENTINEL FAILOVER, after a WAIT that lets the replicas take every write made so far.
   * Resolves once every Sentinel names the new master, it answers ROLE master, and the other
   * replica replicates from it (the old master follows later, when a Sentinel converts it).
   */
  failover(): Promise<{ newMasterPort: number; oldMasterPort: number }>;
  /** Stops every process it started (Sentinels, then data nodes). Safe to call twice. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const FAILOVER_TIMEOUT_MS = 30_000;

/** A Redis config file string: double-quoted, `\` and `"` escaped. */
const quote = (s: string) => `"${s.replace(/[\\"]/g, "\\$&")}"`;

/** Start the deployment; if any part fails, whatever did start is stopped before rejecting. */
export async function startRedisSentinel(
  opts: RedisSentinelOptions = {},
): Promise<RedisSentinelHandle> {
  const name = opts.masterName ?? "mymaster";
  const password = opts.password;
  const sentinelPassword = opts.sentinelPassword ?? opts.password;
  const startedData: RedisServerHandle[] = [];
  const startedSentinels: RedisServerHandle[] = [];
  const stopAll = async () => {
    // Sentinels first, so that none starts a failover while the data nodes go away.
    await Promise.all(startedSentinels.map((s) => s.stop()));
    await Promise.all(startedData.map((s) => s.stop()));
  };
  /** Start n servers; each that started is remembered (for stopAll) even if another failed. */
  const startAll = async (
    n: number,
    into: RedisServerHandle[],
    start: () => Promise<RedisServerHandle>,
  ) => {
    const results = await Promise.allSettled(Array.from({ length: n }, start));
    for (const r of results) if (r.status === "fulfilled") into.push(r.value);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<RedisServerHandle>).value);
  };

  const data = (port: number) => oneShot(port, password);
  const sentinel = (port: number) => oneShot(port, sentinelPassword);
  try {
    const auth = password ? ["--requirepass", password, "--masterauth", password] : [];
    // Any of them may become the master: none waits 5 s for more replicas before a full sync.
    const args = [...auth, "--repl-diskless-sync-delay", "0"];
    const [master] = await startAll(1, startedData, () => startRedisServer({ extraArgs: args }));
    const replicas = await startAll(2, startedData, () =>
      startRedisServer({ extraArgs: [...args, "--replicaof", HOST, String(master!.port)] }),
    );
    await waitFor("the replicas to sync", READY_TIMEOUT_MS, async () => {
      for (const r of replicas) {
        const info = await data(r.port)((c) => c.info("replication"));
        if (!/master_link_status:up/.test(info) || /master_sync_in_progress:1/.test(info)) {
          return false;
        }
      }
      return true;
    });

    const config = [
      `sentinel monitor ${name} ${HOST} ${master!.port} 2`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
      ...(password ? [`sentinel auth-pass ${name} ${quote(password)}`] : []),
      ...(sentinelPassword
        ? [
            `requirepass ${quote(sentinelPassword)}`,
            `sentinel sentinel-pass ${quote(sentinelPassword)}`,
          ]
        : []),
      "",
    ].join("\n");
    const sentinelServers = await startAll(3, startedSentinels, () =>
      startRedisServer({ sentinelConfig: config }),
    );

    await waitFor("the Sentinels to agree", READY_TIMEOUT_MS, async () => {
      for (const s of sentinelServers) {
        const ok = await sentinel(s.port)(async (c) => {
          const addr = (await c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)) as string[];
          if (Number(addr?.[1]) !== master!.port) return false;
          const healthy = (rows: unknown) =>
            (rows as string[][]).map(fields).filter((f) => !/down|disconnected/.test(f.flags!));
          const seen = healthy(await c.call("SENTINEL", "REPLICAS", name));
          if (seen.filter((f) => f["master-link-status"] === "ok").length !== 2) return false;
          if (healthy(await c.call("SENTINEL", "SENTINELS", name)).length !== 2) return false;
          await c.call("SENTINEL", "CKQUORUM", name);
          return true;
        });
        if (!ok) return false;
      }
      return true;
    });

    const servers = [master!, ...replicas];
    const sentinels = sentinelServers.map((s) => ({ host: HOST, port: s.port }));
    const askMaster = async (): Promise<HostPort> => {
      let last: unknown;
      for (const s of sentinelServers) {
        try {
          const addr = (await sentinel(s.port)((c) =>
            c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name),
          )) as string[] | null;
          if (addr) return { host: addr[0]!, port: Number(addr[1]) };
          last = new Error(`sentinel ${s.port} does not know master ${name}`);
        } catch (err) {
          last = err;
        }
      }
      throw last;
    };

    let stopped: Promise<void> | undefined;
    return {
      masterName: name,
      sentinels,
      url: `redis+sentinel://${sentinels.map((s) => `${s.host}:${s.port}`).join(",")}/${name}`,
      servers,
      sentinelServers,
      master: askMaster,
      async failover() {
        const old = await askMaster();
        // A forced failover does not wait for the replicas: let them take every write first.
        await data(old.port)((c) => c.call("WAIT", String(servers.length - 1), "5000")).catch(
          () => undefined,
        );
        await waitFor("SENTINEL FAILOVER to be accepted", FAILOVER_TIMEOUT_MS, async () => {
          try {
            await sentinel(sentinelServers[0]!.port)((c) => c.call("SENTINEL", "FAILOVER", name));
            return true;
          } catch (err) {
            // In progress already (a lost reply, or a failover of the Sentinels' own): wait
            // for it. Otherwise (NOGOODSLAVE: a replica does not qualify yet) ask again.
            if (/INPROG/.test(String(err))) return true;
            throw err;
          }
        });
        let newMasterPort = 0;
        await waitFor("the new master to settle", FAILOVER_TIMEOUT_MS, async () => {
          const ports = await Promise.all(
            sentinelServers.map(async (s) => {
              const addr = (await sentinel(s.port)((c) =>
                c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name),
              )) as string[] | null;
              return Number(addr?.[1]);
            }),
          );
          const port = ports[0]!;
          if (port === old.port || ports.some((p) => p !== port)) return false;
          const role = (await data(port)((c) => c.call("ROLE"))) as unknown[];
          if (role[0] !== "master") return false;
          for (const other of servers.filter((s) => s.port !== port && s.port !== old.port)) {
            const r = (await data(other.port)((c) => c.call("ROLE"))) as unknown[];
            if (r[0] !== "slave" || Number(r[2]) !== port || r[3] !== "connected") return false;
          }
          newMasterPort = port;
          return true;
        });
        return { newMasterPort, oldMasterPort: old.port };
      },
      stop() {
        stopped ??= stopAll();
        return stopped;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** A flat [field, value, …] reply as an object. */
function fields(row: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < row.length; i += 2) out[row[i]!] = row[i + 1]!;
  return out;
}

/** Run `fn` on a fresh connection to 127.0.0.1:port, closed afterwards (never retried). */
function oneShot(port: number, password: string | undefined) {
  return async <T>(fn: (c: Redis) => Promise<T>): Promise<T> => {
    const c = new Redis({
      host: HOST,
      port,
      password,
      lazyConnect: true,
      connectTimeout: 2000,
      commandTimeout: 5000,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
    });
    c.on("error", () => undefined);
    try {
      await c.connect();
      return await fn(c);
    } finally {
      c.disconnect();
    }
  };
}

/** Poll `check` every 100 ms; an error counts as "not yet" and is named if time runs out. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last === undefined ? "" : `: ${String(last)}`;
      throw new Error(`redis sentinel harness: timed out waiting for ${what}${why}`);
    }
    await sleep(100);
  }
}
