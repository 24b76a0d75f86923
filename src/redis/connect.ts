import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { Cluster, Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { RedisUnavailableError, UsageError } from "../errors.js";
import {
  describeEndpoint,
  describeSentinels,
  hostPort,
  type RedisEndpoint,
  type SentinelEndpoint,
  type SentinelSpec,
} from "./redisUrl.js";
import { defineScripts } from "./scripts.js";
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

/**
 * The master the Sentinels name, through an ioredis client that asks them again on every
 * reconnection and drops its connection when they announce a new master (failoverDetector).
 * Every Sentinel is asked first, so that a wrong address, a wrong Sentinel password or an
 * unknown master name is one clear line instead of retries.
 */
async function connectViaSentinel(
  endpoint: SentinelEndpoint,
  opts: ConnectOptions,
  where: string,
  base: RedisOptions,
): Promise<RedisTarget> {
  if (opts.cluster) {
    throw new UsageError(
      `--cluster cannot be used with Sentinel (${where}): Sentinel serves one master and its replicas, not a Cluster`,
    );
  }
  const spec = endpoint.sentinel;
  await askSentinels(spec);
  const client = settleStashedOnEnd(
    new Redis({
      ...base,
      sentinels: spec.nodes.map((n) => ({ host: n.host, port: n.port })),
      name: spec.masterName,
      sentinelUsername: spec.username,
      sentinelPassword: spec.password,
      role: "master",
      failoverDetector: true,
      // The default retries forever: bounded like the data node's reconnections.
      sentinelRetryStrategy: base.retryStrategy ?? undefined,
      sentinelCommandTimeout: 5000,
      // TLS (rediss+sentinel://, or a --tls-* file) is for the data nodes; Sentinels are plain.
      enableTLSForSentinelMode: base.tls !== undefined,
    }),
  );
  let cause: unknown;
  client.on("error", (err: unknown) => (cause ??= err));
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw translateConnectError(cause ?? err, where, endpoint);
  }
  client.removeAllListeners("error");
  client.on("error", () => undefined);
  closeDetectorOnEnd(client);
  defineScripts(client);
  return RedisTarget.single(client, where);
}

/**
 * ioredis's quit() leaves the failover detector's Sentinel connections open (only
 * disconnect() closes them), and they keep the process alive: close them whenever the
 * client ends, on its duplicates too. A later connect() opens a detector again.
 */
function closeDetectorOnEnd(client: Redis): Redis {
  type Detector = { cleanup(): void } | null;
  const { connector } = client as unknown as { connector?: { failoverDetector?: Detector } };
  client.on("end", () => connector?.failoverDetector?.cleanup());
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => closeDetectorOnEnd(duplicate(override));
  return client;
}

interface SentinelAnswer {
  node: string;
  kind: "knows" | "unknown" | "auth" | "notSentinel" | "unreachable";
  /** The error, for the last three (passwords redacted). */
  message?: string;
}

/** Ask every Sentinel for the master's address; throw one line unless one of them knows it. */
async function askSentinels(spec: SentinelSpec, timeoutMs = 5000): Promise<void> {
  const answers = await Promise.all(
    spec.nodes.map(async (n): Promise<SentinelAnswer> => {
      const node = hostPort(n);
      const c = new Redis({
        host: n.host,
        port: n.port,
        username: spec.username,
        password: spec.password,
        lazyConnect: true,
        connectTimeout: timeoutMs,
        commandTimeout: timeoutMs,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
      });
      // A refused connection's cause arrives as an error event; a reply error is thrown.
      let cause: unknown;
      c.on("error", (err: unknown) => (cause ??= err));
      try {
        await c.connect();
        const addr = await c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.masterName);
        return { node, kind: Array.isArray(addr) ? "knows" : "unknown" };
      } catch (err) {
        const replied = err instanceof Error && /^[A-Z]+ /.test(err.message);
        let message = errorMessage(replied ? err : (cause ?? err));
        if (spec.password) message = message.split(spec.password).join("***");
        if (AUTH_FAILED.test(message)) return { node, kind: "auth", message };
        if (/unknown (sub)?command/i.test(message)) return { node, kind: "notSentinel", message };
        return { node, kind: "unreachable", message };
      } finally {
        c.disconnect();
      }
    }),
  );
  if (answers.some((a) => a.kind === "knows")) return;
  const of = (kind: SentinelAnswer["kind"]) => answers.filter((a) => a.kind === kind);
  const nodes = (list: SentinelAnswer[]) => list.map((a) => a.node).join(",");
  const [auth] = of("auth");
  if (auth) {
    throw new RedisUnavailableError(
      `authentication failed at sentinel ${auth.node}: check REDIS_SENTINEL_PASSWORD (and REDIS_SENTINEL_USERNAME)`,
    );
  }
  const unreachable = of("unreachable");
  const down = unreachable.length
    ? `; ${nodes(unreachable)} unreachable (${unreachable[0]!.message})`
    : "";
  const unknown = of("unknown");
  if (unknown.length) {
    throw new RedisUnavailableError(
      `no sentinel at ${nodes(unknown)} knows master ${spec.masterName}${down}`,
    );
  }
  const [notSentinel] = of("notSentinel");
  if (notSentinel) {
    throw new RedisUnavailableError(
      `${notSentinel.node} is not a Redis Sentinel (SENTINEL: ${notSentinel.message})${down}`,
    );
  }
  throw new RedisUnavailableError(
    `cannot reach any sentinel at ${describeSentinels(spec)}: ${unreachable[0]?.message ?? "no answer"}`,
  );
}

const AUTH_FAILED = /WRONGPASS|NOAUTH|invalid password|invalid username-password/i;

function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

/** One line, no password, naming the endpoint and the cause. */
export function translateConnectError(
  err: unknown,
  where: string,
  endpoint?: RedisEndpoint,
): Error {
  if (err instanceof UsageError || err instanceof RedisUnavailableError) return err;
  let msg = err instanceof Error ? err.message : String(err);
  for (const secret of [endpoint?.password, endpoint?.sentinel?.password]) {
    if (secret) msg = msg.split(secret).join("***");
  }
  if (AUTH_FAILED.test(msg)) {
    return new RedisUnavailableError(
      `authentication failed at ${where}: check the user and password`,
    );
  }
  if (/NOPERM/i.test(msg)) {
    return new RedisUnavailableError(`permission denied at ${where}: ${msg}`);
  }
  return new RedisUnavailableError(`cannot reach Redis at ${where}: ${msg}`);
}
