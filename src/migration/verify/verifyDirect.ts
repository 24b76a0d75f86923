import type { Redis } from "ioredis";
import { commandBudget } from "../../redis/commandBudget.js";
import { directFor, type Command } from "../../redis/directReads.js";
import { bulkOffsets, errorText, integerOf, isErrorReply } from "../../redis/resp.js";
import type { KeyRouter } from "../../redis/target.js";
import { mapOldKey } from "../shared/keySchema.js";
import type { Comparer, CompareOptions, PairOutcome } from "./verifyCompare.js";

const EQUAL: PairOutcome = { kind: "equal" };
const SKIPPED: PairOutcome = { kind: "skipped" };
const WORKSPACE_ID = Buffer.from("workspace_id");
const JOB_ID = Buffer.from("job_id");
const STATUS = Buffer.from("status");

/** Errors that mean "ask elsewhere / later": the run's topology handling takes them. */
const REDIRECT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|READONLY|LOADING|MASTERDOWN)/;

/**
 * Verify's pass 1 on the masters: proves pairs equal with plain pipelined reads on direct
 * connections (directReads.ts), and hands every other pair to `exact` (the comparer that
 * says what is wrong: the atomic script on a single instance, the Cluster's reads).
 *
 * Pass 1 needs no atomicity to call a pair equal (the Cluster comparer never had it): the
 * old key is read, then its new key; a pair caught between the application's two writes
 * just looks different and goes to `exact`, and every pair `exact` finds divergent is
 * re-read atomically by the recheck rounds before anything is confirmed. What it does
 * need is the same rule as `exact`: same fields, same bytes, both hashes, remaining TTLs
 * within the tolerance.
 *
 * Per batch, four pipelined rounds, each command short:
 *  1. HLEN and PTTL of each old key (a key of another type, missing, or with more fields
 *     than one HGETALL reads within --max-command-ms goes to `exact`, which pages it);
 *  2. HGETALL of the old keys; their workspace_id and job_id name the new key (anything
 *     unmigratable goes to `exact`, which says why);
 *  3. HLEN and PTTL of each new key (a field count unlike the old key's goes to `exact`);
 *  4. HGETALL of the new keys, compared with the old ones as bytes.
 * Redis spends on a pair about what two pipelined HGETALLs cost plus four O(1) commands,
 * and the client never decodes a field.
 */
export function directFirstComparer(
  router: KeyRouter,
  o: CompareOptions,
  exact: Comparer,
): Comparer {
  return async (oldKeys) => {
    const outcomes = new Array<PairOutcome | undefined>(oldKeys.length);
    try {
      // In groups, all in flight: while the client compares one group's replies, the
      // server already reads the next group's keys (one batch's four rounds in a row
      // left both idle a third of the time).
      const groups: Promise<void>[] = [];
      for (let from = 0; from < oldKeys.length; from += GROUP_KEYS) {
        const to = Math.min(oldKeys.length, from + GROUP_KEYS);
        groups.push(proveEqual(router, o, oldKeys.slice(from, to), outcomes, from));
      }
      await Promise.all(groups);
    } catch (err) {
      if (!(err instanceof DirectUnavailable)) throw err;
      outcomes.fill(undefined); // no direct connection: all of it the exact way
    }
    const rest = oldKeys.flatMap((_, i) => (outcomes[i] ? [] : [i]));
    if (rest.length > 0) {
      const found = await exact(rest.map((i) => oldKeys[i]!));
      rest.forEach((i, j) => (outcomes[i] = found[j]!));
    }
    return outcomes as PairOutcome[];
  };
}

/** A direct connection could not be opened (not a topology change: e.g. refused by ACL). */
class DirectUnavailable extends Error {}

/** Keys read together through the four rounds. */
const GROUP_KEYS = 64;

/** Proves pairs of `oldKeys` equal: sets outcomes[offset + i] for each one it proves. */
async function proveEqual(
  router: KeyRouter,
  o: CompareOptions,
  oldKeys: Buffer[],
  outcomes: (PairOutcome | undefined)[],
  offset: number,
): Promise<void> {
  const maxFields = commandBudget.maxHashFields;
  const sizes = await readEach(router, oldKeys, 2, (k) => [
    ["HLEN", k],
    ["PTTL", k],
  ]);
  const readable = oldKeys.flatMap((_, i) => {
    const n = integerOf(sizes[2 * i]!);
    return n > 0 && n <= maxFields && integerOf(sizes[2 * i + 1]!) !== -2 ? [i] : [];
  });
  const olds = await readEach(
    router,
    readable.map((i) => oldKeys[i]!),
    1,
    (k) => [["HGETALL", k]],
  );
  const pairs: { i: number; old: Buffer; at: number[]; newKey: Buffer }[] = [];
  readable.forEach((i, j) => {
    const old = olds[j]!;
    if (isErrorReply(old)) return;
    const at = bulkOffsets(old);
    if (at.length === 0) return;
    const m = mapOldKey(
      o.schema,
      oldKeys[i]!,
      fieldValue(old, at, WORKSPACE_ID),
      fieldValue(old, at, JOB_ID),
      fieldValue(old, at, STATUS) !== undefined,
    );
    if (!m.ok) return;
    if (o.workspaces && !o.workspaces.has(fieldValue(old, at, WORKSPACE_ID)!.toString("latin1")))
      return void (outcomes[offset + i] = SKIPPED);
    pairs.push({ i, old, at, newKey: m.newKey });
  });
  const newSizes = await readEach(
    router,
    pairs.map((p) => p.newKey),
    2,
    (k) => [
      ["HLEN", k],
      ["PTTL", k],
    ],
  );
  const alike = pairs.filter((p, j) => integerOf(newSizes[2 * j]!) === p.at.length / 4);
  const news = await readEach(
    router,
    alike.map((p) => p.newKey),
    1,
    (k) => [["HGETALL", k]],
  );
  const ttlOf = new Map(pairs.map((p, j) => [p, integerOf(newSizes[2 * j + 1]!)]));
  alike.forEach((p, j) => {
    const now = news[j]!;
    if (isErrorReply(now) || !sameFields(p.old, p.at, now)) return;
    const oldTtl = integerOf(sizes[2 * p.i + 1]!);
    const newTtl = ttlOf.get(p)!;
    if (oldTtl < 0 !== newTtl < 0 || Math.abs(oldTtl - newTtl) > o.ttlToleranceMs) return;
    outcomes[offset + p.i] = EQUAL;
  });
}

/**
 * The commands `perKey(key)` names (`n` of them) for each key, pipelined on a direct
 * connection to the node serving it; their replies flat, key i's at [n*i, n*i + n).
 */
async function readEach(
  router: KeyRouter,
  keys: Buffer[],
  n: number,
  perKey: (key: Buffer) => Command[],
): Promise<Buffer[]> {
  const out = new Array<Buffer>(keys.length * n);
  await Promise.all(
    [...router.groupByNode(keys)].map(async ([node, idx]) => {
      const conn = await directConnection(node);
      const commands: Command[] = [];
      for (const i of idx) commands.push(...perKey(keys[i]!));
      const replies = await conn.send(commands);
      for (const r of replies)
        if (isErrorReply(r) && REDIRECT.test(errorText(r))) throw new Error(errorText(r));
      idx.forEach((i, j) => {
        for (let c = 0; c < n; c++) out[n * i + c] = replies[n * j + c]!;
      });
    }),
  );
  return out;
}

async function directConnection(node: Redis) {
  try {
    return await directFor(node);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // A server that is down or moving is the run's to ride through; anything else (a TLS
    // or ACL setup that refuses a second connection) only costs this fast path.
    if (NETWORK.test(msg)) throw err;
    throw new DirectUnavailable(msg);
  }
}

const NETWORK =
  /Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|no answer within/;

/**
 * The workspace_id of many (old) keys, as the orphan pass asks it: one pipelined HGET per
 * key on the direct connections (null for a key that is missing, not a hash, or has no
 * workspace_id), or `fallback` (the workspaceOf script) where no direct connection opens.
 */
export async function directWorkspacesOf(
  router: KeyRouter,
  keys: Buffer[],
  fallback: (keys: Buffer[]) => Promise<(Buffer | null)[]>,
): Promise<(Buffer | null)[]> {
  if (keys.length === 0) return [];
  let replies: Buffer[];
  try {
    replies = await readEach(router, keys, 1, (k) => [["HGET", k, "workspace_id"]]);
  } catch (err) {
    if (!(err instanceof DirectUnavailable)) throw err;
    return fallback(keys);
  }
  return replies.map((r) => bulkValue(r));
}

/** A bulk string reply's bytes; null for a null reply or any other reply (an error). */
function bulkValue(reply: Buffer): Buffer | null {
  if (reply[0] !== 0x24 || reply[1] === 0x2d) return null; // not "$", or "$-1"
  const nl = reply.indexOf(10);
  return reply.subarray(nl + 1, reply.length - 2);
}

/** The value of field `name` in an HGETALL reply, or undefined. */
function fieldValue(reply: Buffer, at: number[], name: Buffer): Buffer | undefined {
  for (let f = 0; f < at.length; f += 4) {
    if (
      at[f + 1]! - at[f]! === name.length &&
      reply.compare(name, 0, name.length, at[f], at[f + 1]) === 0
    )
      return reply.subarray(at[f + 2], at[f + 3]);
  }
  return undefined;
}

/**
 * Same fields with the same values, as bytes, in any order: an HGETALL reply identical to
 * the old one (the common case for small hashes) costs one memcmp; a copy whose table
 * lists the fields in another order is matched field by field.
 */
export function sameFields(a: Buffer, ea: number[], b: Buffer): boolean {
  if (a.equals(b)) return true;
  const eb = bulkOffsets(b);
  if (ea.length !== eb.length) return false;
  const bytes = (buf: Buffer, at: number[], e: number) => buf.toString("latin1", at[e], at[e + 1]);
  if (ea.length > 128) {
    const values = new Map<string, number>();
    for (let f = 0; f < eb.length; f += 4) values.set(bytes(b, eb, f), f + 2);
    for (let f = 0; f < ea.length; f += 4) {
      const v = values.get(bytes(a, ea, f));
      if (v === undefined || !sameBytes(a, ea, f + 2, b, eb, v)) return false;
    }
    return true;
  }
  next: for (let f = 0; f < ea.length; f += 4) {
    for (let g = 0; g < eb.length; g += 4) {
      if (sameBytes(a, ea, f, b, eb, g)) {
        if (!sameBytes(a, ea, f + 2, b, eb, g + 2)) return false;
        continue next;
      }
    }
    return false;
  }
  return true;
}

function sameBytes(
  a: Buffer,
  ea: number[],
  i: number,
  b: Buffer,
  eb: number[],
  j: number,
): boolean {
  const len = ea[i + 1]! - ea[i]!;
  return len === eb[j + 1]! - eb[j]! && a.compare(b, eb[j], eb[j + 1], ea[i], ea[i + 1]) === 0;
}
