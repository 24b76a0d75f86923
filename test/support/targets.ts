/**
 * The two Redis deployments every live test runs against, started once by
 * test/globalSetup.ts. Usage: `describe.each(targets())("backfill on %s", (target) => …)`.
 */
import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { inject } from "vitest";

export interface Target {
  name: "single" | "cluster";
  url: string;
  cluster: boolean;
}

export type RedisClient = Redis | Cluster;

/** Both deployments: a test written once runs on each (its Cluster twin for free). */
export function targets(): Target[] {
  return [
    named({ name: "single", url: inject("redisSingleUrl"), cluster: false }),
    named({ name: "cluster", url: inject("redisClusterUrl"), cluster: true }),
  ];
}

// vitest prints `%s` through toString() but `$name` quoted ('single'): make `%s` say
// "single". Non-enumerable, so toEqual() and spreading never see it.
function named(target: Target): Target {
  return Object.defineProperty(target, "toString", { value: () => target.name });
}

/** A new client for the target; the caller quits it (e.g. in afterAll). */
export function connect(target: Target): RedisClient {
  if (!target.cluster) return new Redis(target.url);
  const { hostname, port, username, password } = new URL(target.url);
  // One seed node is enough: the client reads the slot map from it.
  return new Cluster([{ host: hostname, port: Number(port) }], {
    redisOptions: {
      username: username || undefined,
      password: password ? decodeURIComponent(password) : undefined,
    },
  });
}

/**
 * `t-<label>-<8 hex>:` — put it in front of every key a test writes, so tests sharing a
 * server never see each other's keys. On a Cluster the keys still spread over all slots.
 */
export function uniquePrefix(label: string): string {
  const safe = label.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return `t-${safe}-${randomBytes(4).toString("hex")}:`;
}
