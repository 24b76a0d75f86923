import net from "node:net";
import type { Endpoint, Target } from "./target.js";
import { pipelineErrors } from "./types.js";
import {
  BIG_JOBS,
  bigJobFields,
  bigJobIndex,
  isMalformed,
  jobFields,
  jobId,
  oldKey,
  ttlMs,
} from "./jobData.js";

export interface SeedResult {
  /** Old keys in all, the big jobs included. */
  keys: number;
  /** Of which the big jobs of --latency (see jobData.ts), valid and migrated as the rest. */
  big: number;
  malformed: number;
  withTtl: number;
  seconds: number;
  keysPerSec: number;
}

// RESP encoding by string length is only correct because all seeded data is ASCII.
const bulk = (a: string) => `$${a.length}\r\n${a}\r\n`;
const fieldHeaders = new Map<string, string>();

function hsetCommand(key: string, fields: string[]): string {
  let s = `*${fields.length + 2}\r\n$4\r\nHSET\r\n${bulk(key)}`;
  for (let j = 0; j < fields.length; j += 2) {
    const name = fields[j]!;
    let head = fieldHeaders.get(name);
    if (head === undefined) fieldHeaders.set(name, (head = bulk(name)));
    s += head + bulk(fields[j + 1]!);
  }
  return s;
}

const WINDOW = 200_000; // max replies outstanding per connection
const CHUNK_BYTES = 1024 * 1024;
const MAX_COMMAND = 8192;

/**
 * Mass insertion over a raw socket (like `redis-cli --pipe`): client-side RESP encoding
 * through ioredis is the bottleneck at these rates. Commands are copied straight into a
 * Buffer: building one big string first made V8 spend most of the time flattening it.
 */
class RespPipe {
  private buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private queued = 0;
  private sent = 0;
  private received = 0;
  private atLineStart = true;
  private error: string | null = null;
  private wake: (() => void) | null = null;

  private constructor(private readonly sock: net.Socket) {
    sock.on("data", (chunk: Buffer) => this.onData(chunk));
    sock.on("error", (e) => this.fail(e.message));
    sock.on("close", () => this.fail("connection closed during seeding"));
  }

  static open(ep: Endpoint): Promise<RespPipe> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(ep.port, ep.host, () => {
        sock.off("error", reject);
        resolve(new RespPipe(sock));
      });
      sock.once("error", reject);
    });
  }

  private onData(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.atLineStart && b === 0x2d && this.error === null) {
        const end = chunk.indexOf(0x0d, i);
        this.error = chunk.toString("latin1", i, end < 0 ? chunk.length : end);
      }
      if (b === 0x0a) this.received++;
      this.atLineStart = b === 0x0a;
    }
    this.poke();
  }

  private fail(msg: string): void {
    if (this.sent > this.received && this.error === null) this.error = msg;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async waitUntil(maxOutstanding: number): Promise<void> {
    while (this.sent - this.received > maxOutstanding && this.error === null) {
      await new Promise<void>((r) => (this.wake = r));
    }
    if (this.error !== null) throw new Error(`seeding failed: ${this.error}`);
  }

  /** Buffers one command (or a few); true when the chunk is full and must be flushed. */
  add(commands: string, count: number): boolean {
    if (commands.length > MAX_COMMAND) throw new Error("seed command too large");
    this.used += this.buf.write(commands, this.used, "latin1");
    this.queued += count;
    return this.used > CHUNK_BYTES - MAX_COMMAND;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.waitUntil(WINDOW);
    const chunk = this.buf.subarray(0, this.used);
    this.sent += this.queued;
    this.buf = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
    this.queued = 0;
    if (!this.sock.write(chunk)) {
      await new Promise<void>((r) => this.sock.once("drain", () => r()));
    }
  }

  async drain(): Promise<void> {
    await this.flush();
    await this.waitUntil(0);
  }

  close(): void {
    this.sock.removeAllListeners("close");
    this.sock.end();
  }
}

/**
 * The big jobs, through ioredis: a 1 MB command does not fit RespPipe's buffer, and there
 * are only a few. Returns how many got a TTL.
 */
async function seedBigJobs(target: Target): Promise<number> {
  let withTtl = 0;
  for (let k = 0; k < BIG_JOBS; k++) {
    const key = oldKey(bigJobIndex(k));
    const p = target.nodeFor(key).pipeline().hset(key, bigJobFields(k));
    const ttl = ttlMs(bigJobIndex(k));
    if (ttl > 0) p.pexpire(key, ttl);
    withTtl += ttl > 0 ? 1 : 0;
    pipelineErrors(await p.exec());
  }
  return withTtl;
}

/**
 * Seeds jobs [0, n) as old-only hashes on `target`, routing each key to its master, and
 * with `big` the BIG_JOBS big ones too (counted in `keys`).
 */
export async function seedJobs(target: Target, n: number, big = false): Promise<SeedResult> {
  const pipes = await Promise.all(target.masters.map((m) => RespPipe.open(m)));
  let malformed = 0;
  let withTtl = 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < n; i++) {
      const id = jobId(i);
      const key = oldKey(i, id);
      const idx = target.indexFor(key);
      let cmds = hsetCommand(key, jobFields(i, id));
      let count = 1;
      const ttl = ttlMs(i);
      if (ttl > 0) {
        cmds += `*3\r\n$7\r\nPEXPIRE\r\n${bulk(key)}${bulk(String(ttl))}`;
        count++;
        withTtl++;
      }
      if (isMalformed(i)) malformed++;
      if (pipes[idx]!.add(cmds, count)) await pipes[idx]!.flush();
    }
    await Promise.all(pipes.map((p) => p.drain()));
  } finally {
    for (const p of pipes) p.close();
  }
  if (big) withTtl += await seedBigJobs(target);
  const keys = n + (big ? BIG_JOBS : 0);
  const seconds = (performance.now() - t0) / 1000;
  const sizes = await Promise.all(target.conns.map((c) => c.dbsize()));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total < keys) throw new Error(`seeding: expected at least ${keys} keys, found ${total}`);
  const bigCount = big ? BIG_JOBS : 0;
  return { keys, big: bigCount, malformed, withTtl, seconds, keysPerSec: keys / seconds };
}

/** Seeds again what `seeded` describes (after an operation deleted old keys). */
export const reseed = (target: Target, seeded: SeedResult) =>
  seedJobs(target, seeded.keys - seeded.big, seeded.big > 0);

/** Big jobs (--latency) whose old key still exists, e.g. those cleanup kept as oversized. */
export async function bigJobsLeft(target: Target, seeded: SeedResult): Promise<number> {
  let n = 0;
  for (let k = 0; k < seeded.big; k++) {
    const key = oldKey(bigJobIndex(k));
    n += await target.nodeFor(key).exists(key);
  }
  return n;
}
