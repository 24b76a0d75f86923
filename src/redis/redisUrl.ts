import { UsageError } from "../errors.js";

/** A `host:port` pair (a Sentinel's address). */
export interface HostPort {
  host: string;
  port: number;
}

/** Where a Sentinel deployment is, and how to reach its Sentinels (not its data nodes). */
export interface SentinelSpec {
  /** The Sentinels to ask, in order (port 26379 when not given). */
  nodes: HostPort[];
  /** The name the Sentinels monitor the master under (`sentinel monitor <name> …`). */
  masterName: string;
  /** The Sentinels' own ACL user and password (REDIS_SENTINEL_USERNAME/PASSWORD), never the URL's. */
  username?: string | undefined;
  password?: string | undefined;
}

interface DataNodeAuth {
  /** TLS to the data nodes (rediss:// or rediss+sentinel://). */
  tls: boolean;
  username: string | undefined;
  password: string | undefined;
  db: number;
}

/** A Redis server (or any Cluster node) reached directly. */
export interface DirectEndpoint extends DataNodeAuth {
  host: string;
  port: number;
  sentinel?: undefined;
}

/** The master a set of Sentinels names; user, password and database are the master's. */
export interface SentinelEndpoint extends DataNodeAuth {
  sentinel: SentinelSpec;
}

/** What a Redis URL says, parsed once and validated; passwords never reach output. */
export type RedisEndpoint = DirectEndpoint | SentinelEndpoint;

export const DEFAULT_SENTINEL_PORT = 26379;

const SENTINEL_SCHEME = /^(rediss?)\+sentinel:\/\//i;

/** Sentinel's own rule for a master name (sentinel.conf): A-z, 0-9 and ".-_". */
export const MASTER_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Parse `redis://[user[:password]@]host[:port][/db]` or `rediss://…`, or the Sentinel form
 * `redis+sentinel://[user[:password]@]host1[:port1][,host2[:port2]…]/<master>[/<db>]`
 * (`rediss+sentinel://` for TLS to the data nodes).
 * Throws UsageError naming the problem; the message shows the URL redacted.
 */
export function parseRedisUrl(raw: string): RedisEndpoint {
  if (SENTINEL_SCHEME.test(raw)) return parseSentinelUrl(raw);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(
      `invalid Redis URL ${redactUrl(raw)}: expected redis://host:port, rediss://host:port or redis+sentinel://host:port,…/<master>`,
    );
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new UsageError(
      `invalid Redis URL ${redactUrl(raw)}: scheme must be redis://, rediss://, redis+sentinel:// or rediss+sentinel://, not ${url.protocol}//`,
    );
  }
  if (!url.hostname) throw new UsageError(`invalid Redis URL ${redactUrl(raw)}: no host`);
  const port = url.port === "" ? 6379 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`invalid Redis URL ${redactUrl(raw)}: bad port`);
  }
  const dbText = url.pathname.replace(/^\//, "");
  return {
    tls: url.protocol === "rediss:",
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    username: url.username ? decode(url.username, raw) : undefined,
    password: url.password ? decode(url.password, raw) : undefined,
    db: parseDb(dbText, raw),
  };
}

/**
 * The Sentinel form, by hand: WHATWG URL takes one host only. As in redactUrl, the user
 * information runs to the last `@` (a master name cannot contain one).
 */
function parseSentinelUrl(raw: string): SentinelEndpoint {
  const bad = (why: string) => new UsageError(`invalid Redis URL ${redactUrl(raw)}: ${why}`);
  const scheme = SENTINEL_SCHEME.exec(raw)!;
  let rest = raw.slice(scheme[0].length);
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(":");
    const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    const pass = colon < 0 ? "" : userinfo.slice(colon + 1);
    username = user ? decode(user, raw) : undefined;
    password = pass ? decode(pass, raw) : undefined;
  }
  if (/[?#]/.test(rest)) throw bad("no query (?…) or fragment (#…) is allowed");
  const slash = rest.indexOf("/");
  const hostList = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash + 1);
  let nodes: HostPort[];
  try {
    nodes = parseHostList(hostList);
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err));
  }
  const [masterName = "", dbText = "", ...extra] = path.split("/");
  if (masterName === "") throw bad("no master name: expected …://host:port,…/<master>[/<db>]");
  if (!MASTER_NAME.test(masterName)) {
    throw bad(`master name must be letters, digits, ".", "-" or "_", not "${masterName}"`);
  }
  if (extra.length > 0) throw bad(`expected /<master>[/<db>] after the Sentinels, not "/${path}"`);
  return {
    tls: scheme[1]!.toLowerCase() === "rediss",
    username,
    password,
    db: parseDb(dbText, raw),
    sentinel: { nodes, masterName },
  };
}

/**
 * `host[:port][,host[:port]…]` (an IPv6 host in brackets; port 26379 when absent), as the
 * Sentinel URL and `--sentinel` take it. Throws an Error saying what is wrong (no secrets
 * can be in it: the caller passes the host part only).
 */
export function parseHostList(list: string): HostPort[] {
  if (list.trim() === "") throw new Error("no Sentinel address: expected host:port[,host:port…]");
  const nodes: HostPort[] = [];
  const seen = new Set<string>();
  for (const item of list.split(",")) {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(item.trim());
    if (!m) throw new Error(`bad Sentinel address "${item}": expected host:port`);
    const host = m[1] ?? m[2]!;
    const port = m[3] === undefined ? DEFAULT_SENTINEL_PORT : Number(m[3]);
    if (port < 1 || port > 65535) throw new Error(`bad port in Sentinel address "${item}"`);
    const key = hostPort({ host, port });
    if (seen.has(key)) throw new Error(`Sentinel ${key} is listed twice`);
    seen.add(key);
    nodes.push({ host, port });
  }
  return nodes;
}

function parseDb(dbText: string, raw: string): number {
  const db = dbText === "" ? 0 : Number(dbText);
  if (!/^\d{1,5}$/.test(dbText || "0") || !Number.isInteger(db)) {
    throw new UsageError(
      `invalid Redis URL ${redactUrl(raw)}: database must be a number, not "${dbText}"`,
    );
  }
  return db;
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

/** `host:port`, an IPv6 host in brackets. */
export function hostPort(n: HostPort): string {
  return `${n.host.includes(":") ? `[${n.host}]` : n.host}:${n.port}`;
}

/** The Sentinels as `host:port,host:port`, for messages. */
export function describeSentinels(spec: SentinelSpec): string {
  return spec.nodes.map(hostPort).join(",");
}

/**
 * Where the tool connects, with the database, for logs and lock owners; no password.
 * A Sentinel endpoint reads as its URL: `redis+sentinel://h1:26379,h2:26379/mymaster/0`.
 */
export function describeEndpoint(e: RedisEndpoint): string {
  const user = e.username ? `${e.username}@` : "";
  if (e.sentinel) {
    const scheme = e.tls ? "rediss+sentinel" : "redis+sentinel";
    return `${scheme}://${user}${describeSentinels(e.sentinel)}/${e.sentinel.masterName}/${e.db}`;
  }
  return `${e.tls ? "rediss" : "redis"}://${user}${hostPort(e)}/${e.db}`;
}
