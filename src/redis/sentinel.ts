import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { RedisUnavailableError, UsageError } from "../errors.js";
import type { ConnectOptions } from "./connect.js";
import { AUTH_FAILED, errorMessage, translateConnectError } from "./connectErrors.js";
import {
  describeSentinels,
  hostPort,
  type SentinelEndpoint,
  type SentinelSpec,
} from "./redisUrl.js";
import { defineScripts } from "./scripts.js";
import { settleStashedOnEnd } from "./stashedCommands.js";
import { RedisTarget } from "./target.js";

/**
 * The master the Sentinels name, through an ioredis client that asks them again on every
 * reconnection and drops its connection when they announce a new master (failoverDetector).
 * Every Sentinel is asked first, so that a wrong address, a wrong Sentinel password or an
 * unknown master name is one clear line instead of retries.
 */
export async function connectViaSentinel(
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
