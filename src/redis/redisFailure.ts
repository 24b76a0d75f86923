/**
 * Which thrown errors mean "Redis failed" (the server, or the way to it) as opposed to a
 * bug in the tool: ioredis rejects a command with its own errors when the connection is
 * lost, with the server's reply when Redis refuses it, and Node's socket errors pass
 * through. The CLI turns these into RedisUnavailableError (exit 3) in one place.
 */

/** ioredis' own errors for a connection that is gone or never came back. */
const CONNECTION_ERRORS = new Set([
  "MaxRetriesPerRequestError",
  "ClusterAllFailedError",
  "AbortError",
  "InterruptError",
  "ParserError",
]);

/** ioredis' messages for a connection that is closed, closing, or not ready. */
const CONNECTION_MESSAGES =
  /^(Connection is closed|Stream isn't writeable|Command timed out|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready|Cluster is disconnect|Too many Cluster redirections|Node is disconnected|Socket timeout|Ready check failed|Connection (forcefully|manually) ended|Fatal error encountered)/;

/**
 * Replies that say the server cannot serve now (loading, busy, out of memory, down,
 * read-only after a failover, denied): not a wrong command. A script error (`ERR … script`)
 * or a WRONGTYPE is not here: it would be the tool's bug, or data it must report itself.
 */
const SERVER_STATE_REPLIES =
  /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOAUTH|WRONGPASS|NOPERM|OOM|MISCONF|NOREPLICAS|NOMASTERLINK)\b|^ERR max (number of )?clients reached/;

/** Socket errors: the network or the server went away. (EPIPE is left out: stdout too.) */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * One line for a Redis failure at `where` (a redacted endpoint), or undefined when `err`
 * is not one (a bug, a local file, …).
 */
export function describeRedisFailure(err: unknown, where: string): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const first = err.message.split("\n")[0]!;
  if (err.name === "MaxRetriesPerRequestError" || /^Connection is closed/.test(first))
    return `lost the connection to Redis at ${where}, and could not re-establish it`;
  if (CONNECTION_ERRORS.has(err.name) || CONNECTION_MESSAGES.test(first))
    return `lost the connection to Redis at ${where}: ${first.replace(/\.$/, "")}`;
  if (err.name === "ReplyError" && SERVER_STATE_REPLIES.test(first))
    return `Redis at ${where} cannot serve the command: ${first}`;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && NETWORK_CODES.has(code) && !("path" in err))
    return `lost the connection to Redis at ${where}: ${code}`;
  return undefined;
}
