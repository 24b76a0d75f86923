import { stateKey } from "../../engine/stateKeys.js";
import { createHash } from "node:crypto";
import type { Finding } from "../../engine/checkpoint.js";
import type { BatchOutcome, ProcessBatch } from "../../engine/runSpec.js";
import { isUnmigratable } from "./keySchema.js";
import type { RedisClient } from "./redisClient.js";

/**
 * Acknowledged leftovers (a baseline): the exact set of unmigratable old keys and foreign
 * new keys an SRE has looked at and accepted (`jobs-migrate accept`). Accepted keys still
 * show in every summary and report, marked accepted, but no longer fail exit statuses,
 * gates or the nightly verify; any leftover not in the set fails them again.
 *
 * Every complete verify of the whole keyspace records its leftovers (uncapped) in a set;
 * `accept --from-last verify` copies that set, as it was, into the accepted one.
 */

export type LeftoverKind = "unmigratable" | "foreign";

/** Every key below shares one hash tag: one slot on a Cluster, so COPY and RENAME work. */
export function baselineKeys(statePrefix: string) {
  const tag = stateKey(statePrefix, "{baseline}");
  return {
    /** Leftovers of the last complete verify of the whole keyspace. */
    lastVerify: `${tag}:last-verify`,
    /** ...and the run they came from (its run id, finishedAt). */
    lastVerifyRun: `${tag}:last-verify:run`,
    /** Leftovers of the verify in progress, and the run id they belong to. */
    recording: `${tag}:recording`,
    recordingRun: `${tag}:recording:run`,
    accepted: `${tag}:accepted`,
    /** Who accepted, when, why, from which run, how many, the digest (JSON). */
    acceptedMeta: `${tag}:accepted:meta`,
    /** accept and accept --clear entries, newest first (JSON lines). */
    audit: `${tag}:audit`,
  };
}

/**
 * The set member naming a finding's leftover ("<kind> <reason> <key>": a key whose reason
 * changed is a new problem), or undefined for any other finding.
 */
export function leftoverOf(f: Finding): { kind: LeftoverKind; member: string } | undefined {
  if (isUnmigratable(f.reason) && f.data === undefined)
    return { kind: "unmigratable", member: `unmigratable ${f.reason} ${f.key}` };
  if (f.reason.startsWith("foreign "))
    return { kind: "foreign", member: `foreign ${f.reason.slice(8)} ${f.key}` };
  return undefined;
}

/** sha256 of the sorted members, one per line: what `accept` recorded, checkable later. */
export function digestOf(members: string[]): string {
  const h = createHash("sha256");
  for (const m of [...members].sort()) h.update(`${m}\n`);
  return `sha256:${h.digest("hex")}`;
}

export interface AcceptedMeta {
  at: string;
  who: string;
  reason: string;
  /** The verify run whose leftovers were accepted. */
  fromRun: string;
  count: number;
  unmigratable: number;
  foreign: number;
  digest: string;
}

/**
 * Marks a batch's leftovers accepted or not (counts `unmigratableAccepted`,
 * `foreignAccepted`; the findings get `accepted: true`), and, for a verify of the whole
 * keyspace (`record`), adds them to the run's recording.
 */
export function withBaseline(
  client: RedisClient,
  statePrefix: string,
  inner: ProcessBatch,
  record: boolean,
): ProcessBatch {
  const keys = baselineKeys(statePrefix);
  return async (batch, ctx) => {
    const out = await inner(batch, ctx);
    const found = out.findings.flatMap((f) => {
      const l = leftoverOf(f);
      return l ? [{ f, ...l }] : [];
    });
    if (found.length === 0) return out;
    const members = found.map((x) => x.member);
    if (record) await client.sadd(keys.recording, ...members);
    const accepted = await client.smismember(keys.accepted, ...members);
    found.forEach((x, i) => {
      if (accepted[i] !== 1) return;
      x.f.accepted = true;
      add(out, `${x.kind}Accepted`);
    });
    return out;
  };
}

function add(out: BatchOutcome, key: string): void {
  out.counts[key] = (out.counts[key] ?? 0) + 1;
}

/** Before a verify of the whole keyspace: a new run starts an empty recording. */
export async function startRecording(
  client: RedisClient,
  statePrefix: string,
  runId: string,
): Promise<void> {
  const keys = baselineKeys(statePrefix);
  if ((await client.get(keys.recordingRun)) === runId) return; // resumed: keep adding
  await client.del(keys.recording);
  await client.set(keys.recordingRun, runId);
}

/** After it completed: its recording becomes the last verify's leftovers. */
export async function finishRecording(
  client: RedisClient,
  statePrefix: string,
  run: { runId: string; finishedAt: string },
): Promise<void> {
  const keys = baselineKeys(statePrefix);
  if (await client.exists(keys.recording)) await client.rename(keys.recording, keys.lastVerify);
  else await client.del(keys.lastVerify);
  await client.set(keys.lastVerifyRun, JSON.stringify(run));
  await client.del(keys.recordingRun);
}

/** Leftovers not yet accepted, of what a run counted (0 when all are accepted). */
export function unaccepted(counts: Record<string, number>, kind: LeftoverKind): number {
  const total = kind === "unmigratable" ? (counts.unmigratable ?? 0) : (counts.newForeign ?? 0);
  return Math.max(0, total - (counts[`${kind}Accepted`] ?? 0));
}

/** A set member read back: kind, reason and key. */
export function parseMember(m: string): { kind: LeftoverKind; reason: string; key: string } {
  const a = m.indexOf(" ");
  const b = m.indexOf(" ", a + 1);
  return {
    kind: m.slice(0, a) as LeftoverKind,
    reason: m.slice(a + 1, b),
    key: m.slice(b + 1),
  };
}

/** Where the leftovers stand now: the last complete verify's, judged by today's accepted set. */
export interface LeftoverStatus {
  /** The verify run that recorded them (undefined: none has yet). */
  fromRun: string | undefined;
  finishedAt: string | undefined;
  unmigratable: number;
  /** Of those, not in the accepted set now. */
  unmigratableUnaccepted: number;
  foreign: number;
  accepted: AcceptedMeta | undefined;
}

export async function leftoverStatus(
  client: RedisClient,
  statePrefix: string,
): Promise<LeftoverStatus> {
  const keys = baselineKeys(statePrefix);
  const [rawRun, rawMeta] = await Promise.all([
    client.get(keys.lastVerifyRun),
    client.get(keys.acceptedMeta),
  ]);
  const run = rawRun ? (JSON.parse(rawRun) as { runId: string; finishedAt: string }) : undefined;
  const status: LeftoverStatus = {
    fromRun: run?.runId,
    finishedAt: run?.finishedAt,
    unmigratable: 0,
    unmigratableUnaccepted: 0,
    foreign: 0,
    accepted: rawMeta ? (JSON.parse(rawMeta) as AcceptedMeta) : undefined,
  };
  let cursor = "0";
  do {
    const [next, batch] = await client.sscan(keys.lastVerify, cursor, "COUNT", 1000);
    cursor = next;
    const unmigratable = batch.filter((m) => m.startsWith("unmigratable "));
    status.foreign += batch.length - unmigratable.length;
    status.unmigratable += unmigratable.length;
    if (unmigratable.length > 0) {
      const inSet = await client.smismember(keys.accepted, ...unmigratable);
      status.unmigratableUnaccepted += inSet.filter((x) => x !== 1).length;
    }
  } while (cursor !== "0");
  return status;
}
