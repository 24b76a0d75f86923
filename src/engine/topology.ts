import calculateSlot from "cluster-key-slot";
import type { Cluster, Redis } from "ioredis";
import { RedisUnavailableError } from "../errors.js";
import {
  readClusterView,
  readSingleView,
  type MasterClaim,
  type TopologyView,
} from "../redis/clusterView.js";
import type { MasterNode, RedisTarget } from "../redis/target.js";
import { sleep } from "./time.js";
import { describeSlots, toRanges } from "./slotRanges.js";

/**
 * A shard: the slots one master served when the run (or its pass) began, walked with one
 * SCAN cursor. Its identity is its slot ranges, not a node id: a replica that takes over
 * the master's slots serves the same shard ("standalone" on a single instance).
 */
export interface Shard {
  key: string;
  slots: ReadonlySet<number>;
  /** The master serving it now (replaced after a failover). */
  node: MasterNode;
}

const nodeOf = (m: MasterClaim): MasterNode => ({
  id: m.id,
  address: m.address,
  serverRunId: m.runId,
  client: m.client,
});

export function shardsOf(view: TopologyView): Shard[] {
  return view.masters.map((m) => ({
    key: m.id === "standalone" ? "standalone" : toRanges(m.slots),
    slots: new Set(m.slots),
    node: nodeOf(m),
  }));
}

/** An error that says the topology moved under a command (not a bug, not bad data). */
export function isTopologyError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /MOVED|ASK|TRYAGAIN|CLUSTERDOWN|READONLY|MASTERDOWN|LOADING|non local key|Connection is closed|Connection closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|MaxRetriesPerRequest|Stream isn't writeable|no master serves|no reply within|UNBLOCKED|failover/i.test(
    msg,
  );
}

/** An error a key in a slot on the move gets (the key is elsewhere or half moved). */
export function isMigrationError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /^(MOVED|ASK|TRYAGAIN)|non local key|CROSSSLOT/i.test(msg);
}

/** Reads the deployment's topology and waits, within a bound, for it to settle. */
export class Topology {
  constructor(
    readonly target: RedisTarget,
    /** How long a run waits for a failover or a restart to settle before exit 3. */
    readonly settleMs: number,
    private readonly log: (level: "info" | "warn", message: string) => void,
  ) {}

  /** One reading, as it is now (possibly unsettled); throws when nothing answers. */
  async read(): Promise<TopologyView> {
    const timeout = Math.min(5000, Math.max(1000, this.settleMs));
    if (this.target.isCluster) {
      const view = await readClusterView(this.target.client as Cluster, timeout);
      this.target.forgetNodes();
      return view;
    }
    const client = this.target.client as Redis;
    // A client that gave up reconnecting stays down until asked again.
    if (client.status === "end") await client.connect().catch(() => undefined);
    return readSingleView(client, timeout);
  }

  /**
   * The topology once every master answers and every slot has one (a failover done), or
   * a RedisUnavailableError after settleMs. `why` says what is being waited for.
   */
  async settled(why: string): Promise<TopologyView> {
    const deadline = Date.now() + this.settleMs;
    let last = "";
    let logged = false;
    for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
      try {
        const view = await this.read();
        if (view.unsettled === undefined) {
          if (logged) this.log("info", `the deployment has settled (${why})`);
          return view;
        }
        last = view.unsettled;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() >= deadline) {
        throw new RedisUnavailableError(
          `the deployment did not settle within --settle-timeout (${Math.round(this.settleMs / 1000)} s) after ${why}: ${last}; ` +
            `the checkpoint is kept, run the same command again to resume`,
        );
      }
      if (!logged) {
        this.log(
          "warn",
          `waiting up to ${Math.round(this.settleMs / 1000)} s for the deployment to settle (${why}): ${last}`,
        );
        logged = true;
      }
      await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
    }
  }
}

/**
 * Watches one pass's slots while its shards are walked: a slot that moved to another
 * shard's master, or was seen migrating or importing, may have keys that no SCAN cursor
 * covers (they left a node before its cursor reached them and arrived behind another's).
 * Such slots are deferred: the walks skip their keys and the pass rescans them by slot
 * once they are still. Each newly deferred slot is saved before it takes effect, so a
 * checkpoint never claims a batch whose skipped keys it does not also owe.
 */
export class SlotWatch {
  private readonly deferred = new Set<number>();
  private readonly baseline = new Map<number, string>();
  private readonly lostShards = new Set<string>();
  /** The baseline shard each master serves, as of the last poll (by address). */
  private readonly homes = new Map<string, string>();
  /** Each master process's config epoch at the last poll ("address/run_id"). */
  private readonly epochs = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private saving: Promise<void> = Promise.resolve();
  /** Slots that moved, and why, for the summary. */
  readonly reasons: string[] = [];

  constructor(
    private readonly topology: Topology,
    private readonly shards: readonly Shard[],
    saved: Iterable<number>,
    private readonly save: (slots: ReadonlySet<number>) => Promise<void>,
    private readonly log: (level: "info" | "warn", message: string) => void,
  ) {
    for (const s of saved) this.deferred.add(s);
    for (const shard of shards) for (const s of shard.slots) this.baseline.set(s, shard.key);
  }

  get clustered(): boolean {
    return this.topology.target.isCluster;
  }

  /** Poll every `ms` until stop(). */
  start(ms = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.polling = this.poll().then(
        () => undefined,
        () => undefined,
      );
    }, ms);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await this.saving;
  }

  isDeferred(key: Buffer): boolean {
    return this.deferred.size > 0 && this.deferred.has(calculateSlot(key));
  }

  /** The slots owed a rescan. */
  pending(): number[] {
    return [...this.deferred];
  }

  /** True once the shard's master has been seen demoted or gone: its walk must move. */
  lost(shardKey: string): boolean {
    return this.lostShards.has(shardKey);
  }

  found(shardKey: string): void {
    this.lostShards.delete(shardKey);
  }

  /** Defer slots (saved first); resolves once the checkpoint owes them. */
  defer(slots: Iterable<number>, why: string): Promise<void> {
    const added = [...slots].filter((s) => !this.deferred.has(s));
    if (added.length === 0) return this.saving;
    const next = new Set([...this.deferred, ...added]);
    this.saving = this.saving.then(async () => {
      await this.save(next);
      for (const s of added) this.deferred.add(s);
    });
    const line = `${describeSlots(added)} ${why}: their keys are rescanned by slot before the pass may complete`;
    this.reasons.push(line);
    this.log("warn", line);
    return this.saving;
  }

  /**
   * Rescanned slots are no longer owed (saved); each now belongs to the shard of the
   * master it was rescanned on, and is deferred again only if it moves again.
   */
  async settle(slots: Iterable<number>, ownerAddress: string): Promise<void> {
    const home = this.homes.get(ownerAddress);
    for (const s of slots) {
      this.deferred.delete(s);
      if (home !== undefined) this.baseline.set(s, home);
    }
    const now = new Set(this.deferred);
    this.saving = this.saving.then(() => this.save(now));
    await this.saving;
  }

  /** Read the topology once and defer whatever moved since the pass began. */
  async poll(): Promise<TopologyView | undefined> {
    let view: TopologyView;
    try {
      view = await this.topology.read();
    } catch {
      return undefined; // the walks' own commands fail and wait for the deployment
    }
    for (const shard of this.shards) {
      const serving = view.masters.find((m) => m.address === shard.node.address);
      const demoted =
        !serving ||
        serving.runId !== shard.node.serverRunId ||
        (this.clustered && !serving.slots.some((s) => shard.slots.has(s)));
      if (demoted && !view.unsettled) this.lostShards.add(shard.key);
    }
    if (!this.clustered) return view;
    const moved: number[] = [];
    const moving: number[] = [];
    const bumped: number[] = [];
    for (const m of view.masters) {
      moving.push(...m.moving);
      // The shard a master serves now: the baseline shard most of its slots came from.
      const tally = new Map<string, number>();
      for (const s of m.slots) {
        const k = this.baseline.get(s) ?? "";
        tally.set(k, (tally.get(k) ?? 0) + 1);
      }
      const home = [...tally].sort((a, b) => b[1] - a[1])[0]?.[0];
      if (home !== undefined) this.homes.set(m.address, home);
      const before = moved.length;
      for (const s of m.slots) if (this.baseline.get(s) !== home) moved.push(s);
      // A master takes a new config epoch when it takes slots. One that did with no slot
      // of its own seen moving may have had a slot leave and come back between readings,
      // its keys past some cursor: all of its slots are rescanned.
      const process = `${m.address}/${m.runId}`;
      const epoch = this.epochs.get(process);
      this.epochs.set(process, m.configEpoch);
      if (epoch !== undefined && epoch !== m.configEpoch && moved.length === before)
        bumped.push(...m.slots);
    }
    if (moving.length > 0) await this.defer(moving, "were seen migrating or importing");
    if (moved.length > 0) await this.defer(moved, "moved to another master during the walk");
    if (bumped.length > 0)
      await this.defer(
        bumped,
        "are served by a master whose config epoch changed with no slot seen moving (a slot may have left and come back)",
      );
    return view;
  }
}
