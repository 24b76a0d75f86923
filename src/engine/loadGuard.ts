import type { Redis } from "ioredis";
import type { MasterNode } from "../redis/target.js";

/** Limits that pause a run while the server is busy (any may be unset). */
export interface LoadLimits {
  /** PING round trip above this pauses the run. */
  maxLatencyMs?: number | undefined;
  /** used_memory above this share of maxmemory (0-100) pauses the run. */
  maxMemoryPct?: number | undefined;
  /** A replica further behind than this many bytes of replication stream pauses the run. */
  maxReplicaLagBytes?: number | undefined;
  /** instantaneous_ops_per_sec above this pauses the run. */
  maxOps?: number | undefined;
}

const field = (info: string, name: string): number | undefined => {
  const m = new RegExp(`^${name}:(\\d+)`, "m").exec(info);
  return m ? Number(m[1]) : undefined;
};

/** Bytes the furthest replica is behind its master, from INFO replication. */
export function replicaLag(info: string): number {
  const master = field(info, "master_repl_offset") ?? 0;
  let lag = 0;
  for (const m of info.matchAll(/^slave\d+:.*offset=(\d+)/gm))
    lag = Math.max(lag, master - Number(m[1]));
  return lag;
}

/**
 * Reads the server's load between batches (at most once a second: a PING and one INFO)
 * and says why the run should wait, if it should. Costs nothing when no limit is set.
 */
export class LoadGuard {
  private checkedAt = 0;
  private verdict: string | undefined;
  /** Per master, a connection of the guard's own (opened on first use). */
  private readonly own = new Map<MasterNode, Redis>();

  /** Masters already warned about: --max-memory without a maxmemory to compare with. */
  private readonly noMaxmemory = new Set<MasterNode>();

  constructor(
    /** The masters, or how to get them now (they change with a failover). */
    private readonly masters: MasterNode[] | (() => MasterNode[]),
    private readonly limits: LoadLimits,
    /** Told once per master when a limit cannot apply there. */
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  get active(): boolean {
    const l = this.limits;
    return [l.maxLatencyMs, l.maxMemoryPct, l.maxReplicaLagBytes, l.maxOps].some(
      (v) => v !== undefined,
    );
  }

  /** The reason to pause now, or undefined. Cached for a second. */
  async reason(): Promise<string | undefined> {
    if (!this.active) return undefined;
    if (Date.now() - this.checkedAt < 1000) return this.verdict;
    const masters = typeof this.masters === "function" ? this.masters() : this.masters;
    const reasons = await Promise.all(masters.map((m) => this.check(m)));
    this.checkedAt = Date.now();
    this.verdict = reasons.find((r) => r !== undefined);
    return this.verdict;
  }

  close(): void {
    for (const c of this.own.values()) c.disconnect();
    this.own.clear();
  }

  private connectionTo(m: MasterNode): Redis {
    let c = this.own.get(m);
    if (!c) {
      c = m.client.duplicate();
      c.on("error", () => undefined); // its commands fail and say why
      this.own.set(m, c);
    }
    return c;
  }

  private async check(m: MasterNode): Promise<string | undefined> {
    const l = this.limits;
    const client = this.connectionTo(m);
    const t0 = performance.now();
    await client.ping();
    const latency = performance.now() - t0;
    if (l.maxLatencyMs !== undefined && latency > l.maxLatencyMs) {
      return `server latency ${latency.toFixed(0)} ms on ${m.address} > --max-latency ${l.maxLatencyMs}`;
    }
    const info = String(await client.call("INFO", "memory", "stats", "replication"));
    const used = field(info, "used_memory") ?? 0;
    const max = field(info, "maxmemory") ?? 0;
    if (l.maxMemoryPct !== undefined && max === 0 && !this.noMaxmemory.has(m)) {
      this.noMaxmemory.add(m);
      this.warn(
        `--max-memory ${l.maxMemoryPct}% has no effect on ${m.address}: it sets no maxmemory`,
      );
    }
    if (l.maxMemoryPct !== undefined && max > 0 && (100 * used) / max > l.maxMemoryPct) {
      return `used_memory at ${((100 * used) / max).toFixed(0)}% of maxmemory on ${m.address} > --max-memory ${l.maxMemoryPct}%`;
    }
    const ops = field(info, "instantaneous_ops_per_sec") ?? 0;
    if (l.maxOps !== undefined && ops > l.maxOps)
      return `${ops} ops/s on ${m.address} > --max-ops ${l.maxOps}`;
    const lag = replicaLag(info);
    if (l.maxReplicaLagBytes !== undefined && lag > l.maxReplicaLagBytes) {
      return `a replica of ${m.address} is ${lag} bytes behind > --max-replica-lag ${l.maxReplicaLagBytes}`;
    }
    return undefined;
  }
}
