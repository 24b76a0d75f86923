import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { Cluster, Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { UsageError } from "../errors.js";
import { describeEndpoint, type RedisEndpoint } from "./redisUrl.js";
import { defineScripts } from "./scripts.js";
import { translateConnectError } from "./connectErrors.js";
import { connectViaSentinel } from "./sentinel.js";
import { settleStashedOnEnd } from "./stashedCommands.js";
import { RedisTarget } from "./target.js";

export interface TlsFiles {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  /** Skip certificate verification (self-signed test setups only). */
  insecure?: boolean | undefined;
}

export interface ConnectOptions {
  endpoint: RedisEndpoint;
  /** true: require a Cluster; false/undefined: detect from INFO cluster. */
  cluster?: boolean | undefined;
  tls?: TlsFiles | undefined;
  /** Reconnection attempts before a command fails for good (bounded: exit 3, not a hang). */
  maxReconnects?: number | undefined;
}

function tlsOptions(endpoint: RedisEndpoint, files: TlsFiles | undefined): TlsOptions | undefined {
  const wanted = endpoint.tls || Boolean(files?.ca || files?.cert || files?.key);
  if (!wanted) return undefined;
  const read = (path: string | undefined, what: string): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch {
      throw new UsageError(`cannot read TLS ${what} file ${path}`);
    }
  };
  return {
    ca: read(files?.ca, "CA"),
    cert: read(files?.cert, "certificate"),
    key: read(files?.key, "key"),
    rejectUnauthorized: !files?.insecure,
    // SNI takes host names only; Node still checks an IP against the certificate. Through
    // Sentinel the data node is whatever address the Sentinels announce: no SNI.
    servername: endpoint.sentinel || isIP(endpoint.host) ? undefined : endpoint.host,
  };
}

/**
 * Connect and detect the topology. Errors are translated here, once: a refused
 * connection or a failed AUTH becomes RedisUnavailableError (exit 3), and no message
 * ever includes the password.
 */
export async function connect(opts: ConnectOptions): Promise<RedisTarget> {
  const { endpoint } = opts;
  const where = describeEndpoint(endpoint);
  const maxReconnects = opts.maxReconnects ?? 5;
  const base: RedisOptions = {
    host: endpoint.sentinel ? undefined : endpoint.host,
    port: endpoint.sentinel ? undefined : endpoint.port,
    username: endpoint.username,
    password: endpoint.password,
    db: endpoint.db,
    tls: tlsOptions(endpoint, opts.tls),
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 2,
    // Bounded: a Redis that stays away ends the run with exit 3 and its checkpoint kept.
    retryStrategy: (times) => (times > maxReconnects ? null : Math.min(200 * 2 ** times, 2000)),
    // Off: each batch is one script already, and commands must leave in the order they
    // are issued. Auto-pipelined, a walker's prefetched SCAN left after the script of the
    // batch in flight, so the next batch could not be sent until that script had run:
    // the server idled between batches (cleanup 200k keys: 3.3 s with it, 2.7 s without).
    enableAutoPipelining: false,
  };

  if (endpoint.sentinel) return connectViaSentinel(endpoint, opts, where, base);

  const probe = settleStashedOnEnd(
    new Redis({ ...base, retryStrategy: () => null, maxRetriesPerRequest: 0 }),
  );
  // The connect() rejection only says "Connection is closed"; the cause (WRONGPASS,
  // ECONNREFUSED, a TLS failure) arrives as an error event first.
  let cause: unknown;
  probe.on("error", (err: unknown) => (cause ??= err));
  let clusterEnabled: boolean;
  try {
    await probe.connect();
    const info = await probe.info("cluster");
    clusterEnabled = /cluster_enabled:1/.test(info);
  } catch (err) {
    probe.disconnect();
    throw translateConnectError(cause ?? err, where, endpoint);
  }
  if (opts.cluster && !clusterEnabled) {
    probe.disconnect();
    throw new UsageError(`--cluster was given but ${where} is not in cluster mode`);
  }
  if (!clusterEnabled) {
    probe.disconnect();
    const client = settleStashedOnEnd(new Redis(base));
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (err) {
      client.disconnect();
      throw translateConnectError(err, where, endpoint);
    }
    defineScripts(client);
    return RedisTarget.single(client, where);
  }
  probe.disconnect();
  if (endpoint.db !== 0) throw new UsageError(`${where}: a Redis Cluster has only database 0`);
  const cluster = new Cluster([{ host: endpoint.host, port: endpoint.port }], {
    // Concurrent commands still share each node's connection in flight.
    redisOptions: { ...base, db: 0, lazyConnect: false },
    enableAutoPipelining: false,
    scaleReads: "master",
    clusterRetryStrategy: (times) =>
      times > maxReconnects ? null : Math.min(200 * 2 ** times, 2000),
    slotsRefreshTimeout: 5000,
    dnsLookup: (address, callback) => callback(null, address),
  });
  cluster.on("error", () => undefined);
  cluster.on("+node", (node: Redis) => settleStashedOnEnd(node));
  try {
    await new Promise<void>((resolve, reject) => {
      cluster.once("ready", () => resolve());
      cluster.once("end", () => reject(new Error("cluster connection ended")));
    });
  } catch (err) {
    cluster.disconnect();
    throw translateConnectError(err, where, endpoint);
  }
  defineScripts(cluster);
  return RedisTarget.cluster(cluster, where);
}

export { translateConnectError } from "./connectErrors.js";
