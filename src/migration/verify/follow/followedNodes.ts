import type { Cluster, Redis } from "ioredis";
import { readClusterView, readSingleView, type MasterClaim } from "../../../redis/clusterView.js";
import type { RedisTarget } from "../../../redis/target.js";
import { UsageError } from "../../../errors.js";
import type { NotifySettings } from "./notifyConfig.js";
import { NodeSubscriber } from "./subscriber.js";

/** A catch-up sweep owed to a master: what it may have written since `sinceMs`. */
export interface GapToSweep {
  client: Redis;
  address: string;
  sinceMs: number;
  why: string;
}

interface Followed {
  runId: string;
  client: Redis;
  sub: NodeSubscriber | undefined;
  /** Events from then on may be lost until the node is subscribed (and swept) again. */
  gapSinceMs: number | undefined;
  why: string;
  warnedMs: number;
}

export interface FollowedNodesHooks {
  onKey(key: Buffer): void;
  onGap(gap: GapToSweep): void;
  log(level: "info" | "warn", message: string): void;
}

/**
 * The masters follow listens to, kept in step with the deployment: read once a second;
 * a new master (a promoted replica, a restarted process) is subscribed to and swept since
 * the last reading that did not show it; a master gone is dropped (its slots are served by
 * a new one, which is swept). Every few seconds each master's notify-keyspace-events is
 * read again: notifications turned off meanwhile (another follow restoring its setting, an
 * admin) are a gap like a lost connection.
 */
export class FollowedNodes {
  private readonly nodes = new Map<string, Followed>();
  private lastGoodMs = Date.now();
  private lastConfigCheckMs = Date.now();

  constructor(
    private readonly target: RedisTarget,
    private readonly prefixes: string[],
    private readonly notify: NotifySettings,
    private readonly hooks: FollowedNodesHooks,
  ) {}

  /** Masters without a working subscription now (their events are being missed). */
  get unfollowed(): string[] {
    return [...this.nodes].filter(([, n]) => !n.sub).map(([a]) => a);
  }

  get followed(): number {
    return [...this.nodes.values()].filter((n) => n.sub).length;
  }

  /**
   * The first reading: every master must emit the events (else a UsageError) and be
   * subscribed; on a Cluster, with --enable-notifications, the replicas are set too, so a
   * promoted one emits them from its first write.
   */
  async start(): Promise<void> {
    const masters = await this.read();
    if (!masters) throw new Error("the deployment is not settled: cannot start following");
    if (this.target.isCluster)
      for (const r of (this.target.client as Cluster).nodes("slave"))
        // Best effort: a replica that refuses or is away is checked if it becomes a master.
        await this.notify.ensure(r, `${r.options.host}:${r.options.port}`).catch(() => undefined);
    for (const m of masters) await this.notify.ensure(m.client, m.address);
    for (const m of masters) {
      const n = this.add(m, undefined, "");
      await this.subscribe(m.address, n);
    }
  }

  /** One reading of the deployment (once a second). */
  async poll(nowMs: number): Promise<void> {
    const masters = await this.read().catch(() => undefined);
    if (!masters) return; // not settled: the gap runs from the last good reading
    const seen = new Set(masters.map((m) => m.address));
    for (const [address, n] of this.nodes) {
      if (seen.has(address)) continue;
      n.sub?.close();
      this.nodes.delete(address);
      this.hooks.log("warn", `${address} no longer serves slots as a master: stopped following it`);
    }
    for (const m of masters) {
      const known = this.nodes.get(m.address);
      if (known && known.runId === m.runId) continue;
      known?.sub?.close();
      const why = known ? "restarted (new run_id)" : "new master (a failover or a new node)";
      this.hooks.log(
        "warn",
        `${m.address}: ${why}; following it, catching up since the last reading`,
      );
      this.add(m, this.lastGoodMs, why);
    }
    const checkConfig = nowMs - this.lastConfigCheckMs >= 5000;
    for (const [address, n] of this.nodes) {
      if (n.sub && checkConfig) await this.recheckConfig(address, n);
      if (!n.sub) await this.subscribe(address, n);
    }
    if (checkConfig) this.lastConfigCheckMs = nowMs;
    this.lastGoodMs = nowMs;
  }

  close(): void {
    for (const n of this.nodes.values()) n.sub?.close();
    this.nodes.clear();
  }

  private add(m: MasterClaim, gapSinceMs: number | undefined, why: string): Followed {
    const n: Followed = {
      runId: m.runId,
      client: m.client,
      sub: undefined,
      gapSinceMs,
      why,
      warnedMs: 0,
    };
    this.nodes.set(m.address, n);
    return n;
  }

  private async read(): Promise<MasterClaim[] | undefined> {
    const view = this.target.isCluster
      ? await readClusterView(this.target.client as Cluster, 2000)
      : await readSingleView(this.target.client as Redis, 2000);
    return view.unsettled === undefined ? view.masters : undefined;
  }

  private async recheckConfig(address: string, n: Followed): Promise<void> {
    const off = "keyspace notifications were turned off";
    let on: boolean;
    try {
      on = await this.notify.ensure(n.client, address);
    } catch (err) {
      if (!(err instanceof UsageError)) return; // down or moving: the next reading says
      this.hooks.log("warn", `${err.message}; events of ${address} are missed until then`);
      n.sub?.close();
      n.sub = undefined;
      n.gapSinceMs ??= this.lastConfigCheckMs;
      n.why = off;
      return;
    }
    if (on) return;
    this.hooks.log("warn", `${off} on ${address}: on again, catching up`);
    this.hooks.onGap({ client: n.client, address, sinceMs: this.lastConfigCheckMs, why: off });
  }

  private async subscribe(address: string, n: Followed): Promise<void> {
    try {
      if (n.gapSinceMs !== undefined) await this.notify.ensure(n.client, address);
      const sub = new NodeSubscriber(n.client, address, this.prefixes, {
        onKey: this.hooks.onKey,
        onResubscribed: (lostAtMs) =>
          this.hooks.onGap({
            client: n.client,
            address,
            sinceMs: lostAtMs,
            why: "connection lost",
          }),
        log: this.hooks.log,
      });
      await sub.start().catch((err: unknown) => {
        sub.close();
        throw err;
      });
      n.sub = sub;
    } catch (err) {
      const now = Date.now();
      if (now - n.warnedMs > 10_000) {
        n.warnedMs = now;
        const msg = err instanceof Error ? err.message : String(err);
        this.hooks.log(
          "warn",
          `cannot follow ${address} yet (${msg}); its events are missed meanwhile`,
        );
      }
      n.gapSinceMs ??= this.lastGoodMs;
      return;
    }
    if (n.gapSinceMs !== undefined) {
      this.hooks.onGap({ client: n.client, address, sinceMs: n.gapSinceMs, why: n.why });
      n.gapSinceMs = undefined;
    }
  }
}
