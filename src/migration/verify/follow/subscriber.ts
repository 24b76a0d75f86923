import type { Redis } from "ioredis";
import { globPrefix } from "../../../engine/scanNode.js";

/** The name of follow's subscriber connections in CLIENT LIST (to find or kill them). */
export const FOLLOW_CLIENT_NAME = "jobs-migrate:follow";

export interface SubscriberHooks {
  /** A key under one of the prefixes was written (or deleted, expired, renamed). */
  onKey(key: Buffer): void;
  /** The subscription is back after a loss: events from `lostAtMs` on were missed. */
  onResubscribed(lostAtMs: number): void;
  log(level: "info" | "warn", message: string): void;
}

/**
 * Keyspace notifications of one master, on a connection of its own: in a Cluster every
 * node publishes only the events of its own keys, so follow listens to each master.
 * Pub/sub is fire-and-forget: while the connection is down (CLIENT KILL, a restart, a
 * network cut) events are lost, so a loss is reported and, once subscribed again, handed
 * to onResubscribed for a catch-up sweep. ioredis reconnects on its own, without end.
 */
export class NodeSubscriber {
  private readonly conn: Redis;
  private subscribed = false;
  private lostAtMs: number | undefined;
  private closing = false;
  private readonly channelPrefix: number;
  private readonly patterns: string[];

  constructor(
    node: Redis,
    readonly address: string,
    prefixes: string[],
    private readonly hooks: SubscriberHooks,
  ) {
    const space = `__keyspace@${node.options.db ?? 0}__:`;
    this.channelPrefix = Buffer.byteLength(space);
    this.patterns = prefixes.map((p) => space + globPrefix(p));
    this.conn = node.duplicate({
      connectionName: FOLLOW_CLIENT_NAME,
      lazyConnect: true,
      autoResubscribe: false,
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(100 * times, 2000),
    });
    this.conn.on("error", () => undefined); // reported as "close" below, then retried
    this.conn.on("pmessageBuffer", (_pattern: Buffer, channel: Buffer) =>
      this.hooks.onKey(channel.subarray(this.channelPrefix)),
    );
    this.conn.on("close", () => {
      if (this.closing || !this.subscribed) return;
      this.subscribed = false;
      this.lostAtMs = Date.now();
      this.hooks.log("warn", `subscription on ${address} lost (connection closed): reconnecting`);
    });
    this.conn.on("ready", () => void this.resubscribe());
  }

  /** Connect and subscribe; resolves once the server confirmed the subscription. */
  async start(): Promise<void> {
    await this.conn.connect();
    await this.conn.psubscribe(...this.patterns);
    this.subscribed = true;
  }

  private async resubscribe(): Promise<void> {
    if (this.closing || this.lostAtMs === undefined) return; // the first ready: start() does it
    try {
      await this.conn.psubscribe(...this.patterns);
    } catch {
      return; // the connection went again: the next ready retries
    }
    const lostAt = this.lostAtMs;
    this.lostAtMs = undefined;
    this.subscribed = true;
    this.hooks.log("warn", `subscribed again on ${this.address}`);
    this.hooks.onResubscribed(lostAt);
  }

  close(): void {
    this.closing = true;
    this.conn.disconnect();
  }
}
