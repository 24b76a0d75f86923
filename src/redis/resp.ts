/**
 * Just enough RESP2 to read pipelined replies as raw bytes: where a reply ends, the bulk
 * strings of a flat array reply, an integer, an error. Replies are never decoded into
 * strings or objects: a caller compares them as bytes (see directReads.ts).
 */

const CR = 13;
const LF = 10;
const PLUS = 43;
const MINUS = 45;
const COLON = 58;
const DOLLAR = 36;
const STAR = 42;

/**
 * Offset just past the reply that starts at `at` in `b`, or -1 when `b` does not hold all
 * of it yet.
 */
export function replyEnd(b: Buffer, at: number): number {
  const len = b.length;
  if (at >= len) return -1;
  const type = b[at];
  if (type === PLUS || type === MINUS) {
    const nl = b.indexOf(LF, at);
    return nl < 0 ? -1 : nl + 1;
  }
  if (type !== COLON && type !== DOLLAR && type !== STAR)
    throw new Error(`unexpected RESP reply type byte ${String(type)}`);
  let p = at + 1;
  let negative = false;
  if (b[p] === MINUS) {
    negative = true;
    p++;
  }
  let n = 0;
  while (p < len && b[p] !== CR) n = n * 10 + (b[p++]! - 48);
  if (p + 1 >= len) return -1;
  p += 2;
  if (type === COLON || negative) return p; // an integer, a null bulk or a null array
  if (type === DOLLAR) return p + n + 2 <= len ? p + n + 2 : -1;
  for (let i = 0; i < n; i++) {
    p = replyEnd(b, p);
    if (p < 0) return -1;
  }
  return p;
}

export const isErrorReply = (reply: Buffer): boolean => reply[0] === MINUS;

/** The text of an error reply ("WRONGTYPE Operation against …", "MOVED 1234 host:6379"). */
export const errorText = (reply: Buffer): string => reply.toString("utf8", 1, reply.length - 2);

/** The value of an integer reply; NaN for any other reply. */
export function integerOf(reply: Buffer): number {
  if (reply[0] !== COLON) return NaN;
  let p = 1;
  const negative = reply[p] === MINUS;
  if (negative) p++;
  let n = 0;
  while (reply[p] !== CR) n = n * 10 + (reply[p++]! - 48);
  return negative ? -n : n;
}

/**
 * [start, end) offsets in `reply` of each bulk string of a flat array reply (HGETALL's),
 * two numbers per element; empty for an empty or null array. Throws on any other reply.
 */
export function bulkOffsets(reply: Buffer): number[] {
  if (reply[0] !== STAR) throw new Error("expected an array reply");
  if (reply[1] === MINUS) return [];
  let p = 1;
  let n = 0;
  while (reply[p] !== CR) n = n * 10 + (reply[p++]! - 48);
  p += 2;
  const out = new Array<number>(2 * n);
  for (let i = 0; i < n; i++) {
    if (reply[p] !== DOLLAR) throw new Error("expected an array of bulk strings");
    p++;
    let size = 0;
    while (reply[p] !== CR) size = size * 10 + (reply[p++]! - 48);
    p += 2;
    out[2 * i] = p;
    out[2 * i + 1] = p + size;
    p += size + 2;
  }
  return out;
}

/** Bytes of the decimal digits of a non-negative integer. */
const digits = (n: number): number => (n < 10 ? 1 : Math.floor(Math.log10(n)) + 1);

/** Writes `n`'s decimal digits at `at`; returns the offset after them. */
function writeDigits(buf: Buffer, n: number, at: number): number {
  const end = at + digits(n);
  for (let p = end - 1; p >= at; p--) {
    buf[p] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

/**
 * Commands in RESP, ready to write to a socket as one buffer (one allocation: a batch
 * holds thousands of commands, and a buffer per argument was a tenth of a verify's CPU).
 */
export function encodeCommands(commands: readonly (readonly (string | Buffer)[])[]): Buffer {
  let size = 0;
  const args: Buffer[][] = commands.map((c) =>
    c.map((a) => (typeof a === "string" ? Buffer.from(a, "utf8") : a)),
  );
  for (const c of args) {
    size += 3 + digits(c.length);
    for (const a of c) size += 5 + digits(a.length) + a.length;
  }
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  for (const c of args) {
    out[p++] = STAR;
    p = writeDigits(out, c.length, p);
    out[p++] = CR;
    out[p++] = LF;
    for (const a of c) {
      out[p++] = DOLLAR;
      p = writeDigits(out, a.length, p);
      out[p++] = CR;
      out[p++] = LF;
      p += a.copy(out, p);
      out[p++] = CR;
      out[p++] = LF;
    }
  }
  return out;
}
