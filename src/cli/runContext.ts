import { commandBudget } from "../redis/commandBudget.js";
import { connect } from "../redis/connect.js";
import { describeEndpoint, parseRedisUrl, type RedisEndpoint } from "../redis/redisUrl.js";
import type { RedisTarget } from "../redis/target.js";
import type { RunSettings } from "../migration/shared/runSettings.js";
import type { RunMetrics } from "../output/runMetrics.js";
import type { KeySchema } from "../migration/shared/keySchema.js";
import { toolVersion } from "../version.js";
import type { ConnectionOptions } from "./options/connection.js";
import type { RunOptions } from "./options/run.js";
import { noteEndpoint } from "./endpointInUse.js";
import { createProgressView } from "./render/progressView.js";
import { registerSecret } from "./secrets.js";
import { stopOnSignals } from "./signals.js";

/**
 * Connect as the options say; the passwords are registered as secrets first. The command
 * budget is --max-command-ms where the subcommand takes it, else the default.
 * `maxReconnects`: attempts before a lost connection fails for good (default 5).
 */
export async function openTarget(
  opts: ConnectionOptions & { maxCommandMs?: number },
  maxReconnects?: number,
): Promise<RedisTarget> {
  if (opts.maxCommandMs !== undefined) commandBudget.configure(opts.maxCommandMs);
  const endpoint = endpointOf(opts);
  // REDIS_PASSWORD keeps the password out of the URL (and out of shell history).
  endpoint.password ??= process.env.REDIS_PASSWORD || undefined;
  registerSecret(endpoint.password);
  if (endpoint.sentinel) {
    // The Sentinels' own credentials: never in the URL, whose are the master's.
    endpoint.sentinel.username ??= process.env.REDIS_SENTINEL_USERNAME || undefined;
    endpoint.sentinel.password ??= process.env.REDIS_SENTINEL_PASSWORD || undefined;
    registerSecret(endpoint.sentinel.password);
  }
  noteEndpoint(describeEndpoint(endpoint));
  return connect({
    endpoint,
    maxReconnects,
    cluster: opts.cluster,
    tls: { ca: opts.tlsCa, cert: opts.tlsCert, key: opts.tlsKey, insecure: opts.tlsInsecure },
  });
}

/** --redis-url, or --sentinel with --sentinel-master (the schema allows one of the two). */
export function endpointOf(opts: ConnectionOptions): RedisEndpoint {
  if (opts.sentinel && opts.sentinelMaster) {
    return {
      tls: false,
      username: undefined,
      password: undefined,
      db: 0,
      sentinel: { nodes: opts.sentinel, masterName: opts.sentinelMaster },
    };
  }
  return parseRedisUrl(opts.redisUrl ?? "");
}

export function schemaOf(opts: ConnectionOptions): KeySchema {
  return { oldPrefix: opts.oldPrefix, newPrefix: opts.newPrefix };
}

/**
 * Everything a run needs from the CLI: settings, signal handling and a progress view
 * on stderr (stdout is kept for the result). Call `close()` when the run ends.
 */
export function runSession(
  name: string,
  opts: RunOptions & ConnectionOptions,
  highlight: readonly string[],
  metrics?: RunMetrics,
) {
  const view = createProgressView({
    name,
    stream: process.stderr,
    intervalSeconds: opts.progressInterval,
    highlight,
    format: opts.logFormat,
  });
  const stop = stopOnSignals((sig) =>
    view.listener({
      type: "log",
      level: "warn",
      message: `${sig}: finishing the current batch, then saving the checkpoint`,
    }),
  );
  const settings: RunSettings = {
    statePrefix: opts.statePrefix,
    batchSize: opts.batchSize,
    rate: opts.rate,
    lockTtlMs: opts.lockTtl,
    restart: opts.restart,
    findingsCap: opts.listLimit,
    version: toolVersion(),
    signal: stop.signal,
    onEvent: metrics
      ? (e) => {
          view.listener(e);
          if (e.type === "progress") metrics.progress(e);
        }
      : view.listener,
    targetBatchMs: opts.targetBatchMs,
    loadLimits: {
      maxLatencyMs: opts.maxLatency,
      maxMemoryPct: opts.maxMemory,
      maxReplicaLagBytes: opts.maxReplicaLag,
      maxOps: opts.maxOps,
    },
    maxPauseMs: opts.maxPause,
    settleMs: opts.settleTimeout,
  };
  return {
    settings,
    close: () => {
      view.stop();
      stop.dispose();
    },
  };
}
