/**
 * Bounded server time per command (DESIGN §3.9): while a script runs, Redis serves nobody
 * else, so a batch of keys is never one script. It is cut into chunks sized from the
 * measured time per key of that script, each meant to take half the budget, and the chunks
 * go out pipelined on the node's connection. Throughput comes from the pipeline, not from
 * long commands.
 *
 * Redis executes every command it finds in one read of a client's socket (up to 16 KB)
 * before it serves another client. So besides short commands, a connection carries at
 * most one budget's worth of estimated work at a time (a "lane"): the application's
 * command waits behind one budget at most, and the server still never waits for us (two
 * half-budget chunks are queued while the client answers the first reply).
 *
 * A chunk's time is the server's own: a TIME command goes out just before and just after
 * it on the same connection (issued in the same tick, so nothing of ours comes between),
 * so neither the network nor a busy client inflates it (an inflated figure would shrink
 * the chunks and starve the server).
 */

/**
 * A connection chunks are sent on (an ioredis client); without `time` (a test's fake),
 * the budget times calls itself.
 */
export interface Connection {
  time?(): Promise<unknown>;
}

/** Until a script has been measured: small chunks (a 1 ms budget: 10 keys). */
const FIRST_GUESS_US_PER_KEY = 50;
/** Chunks never hold more keys than this (Lua's unpack() and reply sizes stay modest). */
const MAX_CHUNK_KEYS = 500;
/** Bytes of hash data Lua takes in per µs (HGETALL into Lua, measured ~1.4 ns/byte). */
const LUA_BYTES_PER_US = 250;
/** SCAN visits about this many entries per µs (MATCH and TYPE included), with margin. */
const SCAN_COUNT_PER_US = 0.5;
/**
 * Hash fields a plain HGETALL returns per µs of server time (measured: 300 fields 0.1 ms,
 * 2,000 fields 0.27-0.31 ms, 10,000 fields 5-5.8 ms, as the reply outgrows its buffers).
 */
const HGETALL_FIELDS_PER_US = 2;

interface Waiter {
  us: number;
  go: () => void;
}

/** One connection's work in flight, in estimated server µs. */
class Lane {
  busyUs = 0;
  /** Calls in flight: an idle lane takes any call (busyUs may keep a rounding residue). */
  calls = 0;
  lastReplyAt = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly capUs: () => number) {}

  /** Resolves once `us` more fits (always for an idle lane): first come, first served. */
  acquire(us: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(us)) {
      this.busyUs += us;
      this.calls++;
      return Promise.resolve();
    }
    return new Promise((go) => this.waiting.push({ us, go }));
  }

  release(us: number): void {
    this.busyUs -= us;
    this.calls--;
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.us)) {
      const next = this.waiting.shift()!;
      this.busyUs += next.us;
      this.calls++;
      next.go();
    }
  }

  private fits(us: number): boolean {
    return this.calls === 0 || this.busyUs + us <= this.capUs();
  }
}

export class CommandBudget {
  private budgetUs = 1000;
  private readonly usPerKey = new Map<string, number>();
  private readonly lanes = new WeakMap<Connection, Lane>();

  /** Set the budget from `--max-command-ms`. */
  configure(maxCommandMs: number): void {
    if (!(maxCommandMs > 0)) throw new RangeError(`a command budget must be above 0 ms`);
    this.budgetUs = maxCommandMs * 1000;
  }

  get maxCommandMs(): number {
    return this.budgetUs / 1000;
  }

  /**
   * A key whose value takes more bytes than this cannot be read into a script within the
   * budget (scripts that read whole hashes skip it as "oversized"; the caller takes a
   * bounded path, or lists it).
   */
  get maxKeyBytes(): number {
    return Math.round((this.budgetUs / 2) * LUA_BYTES_PER_US);
  }

  /** A hash with more fields than this is not read by one HGETALL within the budget. */
  get maxHashFields(): number {
    return Math.max(10, Math.round((this.budgetUs / 2) * HGETALL_FIELDS_PER_US));
  }

  /** SCAN COUNT of one SCAN call (a bigger batch is several SCAN calls). */
  get scanCount(): number {
    return Math.max(10, Math.round(this.budgetUs * SCAN_COUNT_PER_US));
  }

  /** Keys per call of `script` now, from its measured time per key. */
  chunkKeys(script: string): number {
    const perKey = this.usPerKey.get(script) ?? FIRST_GUESS_US_PER_KEY;
    return Math.max(1, Math.min(MAX_CHUNK_KEYS, Math.floor(this.budgetUs / 2 / perKey)));
  }

  /** Measured µs per key of a script (for tests and logs); undefined until measured. */
  measuredUsPerKey(script: string): number | undefined {
    return this.usPerKey.get(script);
  }

  /**
   * Call `call(from, to)` over `count` items in chunks of `script`'s size, on `conn`'s
   * lane; results in chunk order. Items [from, to) of a chunk are the caller's to map.
   * `onSlow(from, to, ms)` hears of a chunk that took longer than the budget (a key in it
   * may be too big for any short command: the caller can find and list it).
   */
  async inChunks<R>(
    conn: Connection,
    script: string,
    count: number,
    call: (from: number, to: number) => Promise<R>,
    onSlow?: (from: number, to: number, ms: number) => void,
  ): Promise<R[]> {
    const lane = this.laneOf(conn);
    const calls: Promise<R>[] = [];
    for (let next = 0; next < count;) {
      // A binding of its own per chunk: onSlow runs after the loop has moved on.
      const from = next;
      const to = Math.min(count, from + this.chunkKeys(script));
      const estimate = (to - from) * (this.usPerKey.get(script) ?? FIRST_GUESS_US_PER_KEY);
      await lane.acquire(estimate);
      const slow = onSlow && ((ms: number) => onSlow(from, to, ms));
      const before = conn.time?.();
      const reply = call(from, to);
      const after = conn.time?.();
      const serverUs = Promise.all([before, after]).then(
        ([a, b]) => (a && b ? micros(b) - micros(a) : undefined),
        () => undefined, // TIME refused (an ACL): the client's own timing below
      );
      const measured = this.measured(lane, script, to - from, estimate, reply, serverUs, slow);
      // Handled below (Promise.all), but only once every chunk is sent: a chunk that fails
      // while the loop waits for its lane must not be an unhandled rejection meanwhile.
      measured.catch(() => undefined);
      calls.push(measured);
      next = to;
    }
    return Promise.all(calls);
  }

  private async measured<R>(
    lane: Lane,
    script: string,
    keys: number,
    estimate: number,
    reply: Promise<R>,
    serverUs: Promise<number | undefined>,
    onSlow: ((ms: number) => void) | undefined,
  ): Promise<R> {
    const sentAt = performance.now();
    try {
      const out = await reply;
      // Without TIME: at most what passed since the call reached the head of the
      // connection's queue (since it was sent, or since the reply before it).
      const now = performance.now();
      const us = (await serverUs) ?? (now - Math.max(sentAt, lane.lastReplyAt)) * 1000;
      const ms = us / 1000;
      this.learn(script, us / keys);
      if (ms > this.budgetUs / 1000) onSlow?.(ms);
      lane.lastReplyAt = now;
      return out;
    } finally {
      lane.release(estimate);
    }
  }

  /**
   * A fifth of each sample, and a sample counts for at most four times the estimate: one
   * call slowed by the host (the server process descheduled) must not shrink every chunk
   * after it, while a real change (bigger hashes) is followed within a few calls.
   */
  private learn(script: string, sampleUs: number): void {
    const old = this.usPerKey.get(script);
    const next = old === undefined ? sampleUs : old * 0.8 + Math.min(sampleUs, old * 4) * 0.2;
    this.usPerKey.set(script, Math.max(0.5, next));
  }

  private laneOf(conn: Connection): Lane {
    let lane = this.lanes.get(conn);
    if (!lane) {
      lane = new Lane(() => this.budgetUs);
      this.lanes.set(conn, lane);
    }
    return lane;
  }
}

/** A TIME reply ([seconds, microseconds]) in microseconds. */
function micros(reply: unknown): number {
  const [sec, usec] = reply as [string, string];
  return Number(sec) * 1_000_000 + Number(usec);
}

/** The process's budget, set once from the command line (default 1 ms). */
export const commandBudget = new CommandBudget();
