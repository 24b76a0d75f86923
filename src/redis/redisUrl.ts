import { UsageError } from "../errors.js";

/** What a Redis URL says, parsed once and validated; `password` never reaches output. */
export interface RedisEndpoint {
  tls: boolean;
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  db: number;
}

/**
 * Parse `redis://[user[:password]@]host[:port][/db]` or `rediss://…`.
 * Throws UsageError naming the problem; the message shows the URL redacted.
 */
export function parseRedisUrl(raw: string): RedisEndpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(
      `invalid Redis URL ${redactUrl(raw)}: expected redis://host:port or rediss://host:port`,
    );
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new UsageError(
      `invalid Redis URL ${redactUrl(raw)}: scheme must be redis:// or rediss://, not ${url.protocol}//`,
    );
  }
  if (!url.hostname) throw new UsageError(`invalid Redis URL ${redactUrl(raw)}: no host`);
  const port = url.port === "" ? 6379 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`invalid Redis URL ${redactUrl(raw)}: bad port`);
  }
  const dbText = url.pathname.replace(/^\//, "");
  const db = dbText === "" ? 0 : Number(dbText);
  if (!/^\d{1,5}$/.test(dbText || "0") || !Number.isInteger(db)) {
    throw new UsageError(
      `invalid Redis URL ${redactUrl(raw)}: database must be a number, not "${dbText}"`,
    );
  }
  return {
    tls: url.protocol === "rediss:",
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    username: url.username ? decode(url.username, raw) : undefined,
    password: url.password ? decode(url.password, raw) : undefined,
    db,
  };
}

/**
 * The URL with any password replaced by `***`, safe to print even when unparseable.
 * The password runs to the LAST `@`, as URL parsers split it, so an unencoded `@`,
 * `/`, `?` or `#` inside it is hidden too (over-redacting is the safe side).
 */
export function redactUrl(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^:@/?#]*):.*@/i, "$1$2:***@");
}

function decode(part: string, raw: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new UsageError(
      `invalid Redis URL ${redactUrl(raw)}: bad %-encoding in the user or password`,
    );
  }
}

/** host:port with the database, for logs and lock owners. */
export function describeEndpoint(e: RedisEndpoint): string {
  const host = e.host.includes(":") ? `[${e.host}]` : e.host;
  return `${e.tls ? "rediss" : "redis"}://${e.username ? `${e.username}@` : ""}${host}:${e.port}/${e.db}`;
}
