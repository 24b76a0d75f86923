import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { Cluster, Redis } from "ioredis";
import { LockHeldError } from "../errors.js";

/** Who holds a run lock; stored as the lock's JSON value. */
export interface LockOwner {
  runId: string;
  host: string;
  pid: number;
  since: string;
  /**
   * This process, whatever its pid: a container restarted in the same pod has the same
   * host name and is pid 1 again, so host and pid alone cannot tell it from its dead
   * predecessor. (Absent in locks written by older versions.)
   */
  process?: string;
  /** The kernel's boot id: a lock from before a reboot is dead whatever its pid. */
  boot?: string;
}

/** This process's token (see LockOwner.process). */
const PROCESS = randomUUID();

/** The kernel boot id (Linux), or undefined where there is none. */
function bootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
const BOOT = bootId();

/**
 * Why the holder of a lock on this host is provably dead, or undefined when it may be
 * alive (or lives on another host: its heartbeat decides, see lockList.ts). The rule
 * beside the takeover logic: a reboot since it was taken; our own pid held by another
 * process (a container restarted in the same pod); a pid that no longer exists.
 */
export function deadHolderHere(holder: LockOwner): string | undefined {
  if (holder.host !== hostname()) return undefined;
  if (holder.boot !== undefined && BOOT !== undefined && holder.boot !== BOOT)
    return "dead (the host rebooted since)";
  if (holder.pid === process.pid)
    return holder.process === PROCESS ? undefined : "dead (its pid is now this process's)";
  return pidAlive(holder.pid) ? undefined : "dead (pid gone)";
}

/** Whether a process with this pid exists on this host. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function describeOwner(o: LockOwner): string {
  return `pid ${o.pid} on ${o.host} since ${o.since} (run ${o.runId})`;
}

/**
 * One run per subcommand and scope (DESIGN §3.6): SET NX with an expiry, kept alive
 * by a heartbeat. A holder that died without releasing is recognised two ways: its
 * lock expires after `ttlMs`, or, on the same host, deadHolderHere says so.
 */
export class RunLock {
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly token: string;
  /** Set when the heartbeat found the lock gone or taken: the run must stop. */
  lost = false;
  /** The dead holder this lock was taken over from, if any. */
  tookOverFrom: LockOwner | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly key: string,
    readonly owner: LockOwner,
    private readonly ttlMs: number,
  ) {
    this.token = JSON.stringify(owner);
  }

  static ownerFor(runId: string): LockOwner {
    return {
      runId,
      host: hostname(),
      pid: process.pid,
      since: new Date().toISOString(),
      process: PROCESS,
      ...(BOOT ? { boot: BOOT } : {}),
    };
  }

  /** Read the current holder without taking the lock. */
  static async holder(client: Redis | Cluster, key: string): Promise<LockOwner | undefined> {
    const raw = await client.get(key);
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as LockOwner;
    } catch {
      return { runId: "?", host: "?", pid: 0, since: "?" };
    }
  }

  /** Take the lock or throw LockHeldError naming the live holder. */
  async acquire(what: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const ok = await this.client.set(this.key, this.token, "PX", this.ttlMs, "NX");
      if (ok === "OK") return this.startHeartbeat();
      const raw = await this.client.get(this.key);
      if (raw === null) continue; // expired between SET and GET: try again
      const holder = JSON.parse(raw) as LockOwner;
      if (deadHolderHere(holder) !== undefined) {
        const taken = await this.client.takeoverLock(this.key, raw, this.token, this.ttlMs);
        if (taken === 1) {
          this.tookOverFrom = holder;
          return this.startHeartbeat();
        }
        continue;
      }
      const ttl = await this.client.pttl(this.key);
      throw new LockHeldError(
        `another ${what} run holds the lock: ${describeOwner(holder)}; ` +
          `its lock expires in ${Math.max(0, Math.ceil(ttl / 1000))}s unless its heartbeat renews it`,
      );
    }
    throw new LockHeldError(`could not take the ${what} lock: it kept changing hands`);
  }

  private startHeartbeat(): void {
    this.heartbeat = setInterval(
      () => {
        this.client.extendLock(this.key, this.token, this.ttlMs).then(
          (r) => {
            if (r !== 1) this.lost = true;
          },
          // A failed heartbeat is not a lost lock yet: the next one may succeed, and the
          // run's own commands will fail loudly if Redis is really gone.
          () => undefined,
        );
      },
      Math.max(50, Math.floor(this.ttlMs / 3)),
    );
  }

  async release(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.client.releaseLock(this.key, this.token);
  }

  /** Stop the heartbeat without touching Redis (when Redis is gone). */
  abandon(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
