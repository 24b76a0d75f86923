/**
 * Divergences planted by hand after a backfill, one or more of every kind verify reports,
 * with what verify must say about each: the test compares its findings to this list.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import calculateSlot from "cluster-key-slot";
import { Cluster } from "ioredis";
import { prefixArgs, runCli } from "./cli.js";
import { seedOldJobs, type JobRef } from "./jobHashes.js";
import type { RedisClient, Target } from "./targets.js";

export interface Planted {
  oldKey: string;
  newKey: string;
  kinds: string[];
  fields?: { differs: string[]; missing: string[]; extra: string[] };
}

/** A divergence as verify reports it (the `divergences` of --json, a --report line). */
export interface Reported extends Planted {
  status: "confirmed" | "transient";
  reason?: string;
  values?: Record<string, { old: string | null; new: string | null }>;
  oldTtlMs?: number;
  newTtlMs?: number;
}

export const oldKeyOf = (p: string, jobId: string): string => `${p}ai:jobs:${jobId}`;
export const newKeyOf = (p: string, j: JobRef): string =>
  `${p}ai:job:${j.workspace_id}:${j.job_id}`;

/** `verify` against the test's own prefixes, short rechecks, every finding listed. */
export function verifyArgs(target: Target, p: string, ...extra: string[]): string[] {
  const base = ["verify", "--redis-url", target.url, "--old-prefix", `${p}ai:jobs:`];
  return [
    ...base,
    ...["--new-prefix", `${p}ai:job:`, "--state-prefix", `${p}jm:`],
    ...["--recheck-delay", "10", "--list-limit", "1000"],
    ...extra,
  ];
}

/** `count` old jobs over 4 workspaces (`ws-0` … `ws-3`, round-robin), backfilled. */
export async function backfilledJobs(
  redis: RedisClient,
  target: Target,
  p: string,
  count: number,
): Promise<JobRef[]> {
  const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count, workspaces: 4 });
  const r = await runCli(["backfill", "--redis-url", target.url, ...prefixArgs(p)]);
  if (r.code !== 0) throw new Error(`backfill exited ${r.code}: ${r.stderr}`);
  return jobs;
}

/** A comparable, order-free identity for a divergence: kinds, old key, new key, fields. */
export function identify(d: Planted): string {
  const f = d.fields;
  const fields = f ? `${f.differs.join(",")}/${f.missing.join(",")}/${f.extra.join(",")}` : "";
  return `${[...d.kinds].sort().join("+")} ${d.oldKey} -> ${d.newKey} ${fields}`;
}

export const identifyAll = (list: Planted[]): string[] => list.map(identify).sort();

const noFields = { differs: [], missing: [], extra: [] };

/**
 * Break a backfilled keyspace (jobs from seedOldJobs, at least 40, 4+ workspaces, every
 * 4th with a TTL): per kind, the jobs at the given offsets. Returns what verify must
 * report, and the unmigratable old keys planted with their reasons.
 */
export async function plantEveryKind(
  redis: RedisClient,
  p: string,
  jobs: JobRef[],
): Promise<{ divergences: Planted[]; unmigratable: Record<string, string> }> {
  const out: Planted[] = [];
  const pair = (i: number) => ({
    oldKey: oldKeyOf(p, jobs[i]!.job_id),
    newKey: newKeyOf(p, jobs[i]!),
  });
  const plant = (i: number, kinds: string[], fields?: Planted["fields"]) =>
    out.push({ ...pair(i), kinds, ...(fields ? { fields } : {}) });
  for (const i of [1, 2, 3]) {
    await redis.hset(pair(i).newKey, "status", "tampered");
    plant(i, ["field_differs"], { ...noFields, differs: ["status"] });
  }
  for (const i of [5, 6, 7]) {
    await redis.hdel(pair(i).newKey, "actor_id");
    plant(i, ["field_missing"], { ...noFields, missing: ["actor_id"] });
  }
  for (const i of [9, 10, 11]) {
    await redis.hset(pair(i).newKey, "extra_field", "x");
    plant(i, ["field_extra"], { ...noFields, extra: ["extra_field"] });
  }
  for (const i of [13, 14, 15]) {
    await redis.del(pair(i).newKey);
    plant(i, ["new_missing"], noFields);
  }
  // Jobs 16, 20 and 24 have a TTL (~1 h), 17 has none: 1 h apart, or one side without.
  for (const i of [16, 20]) await redis.pexpire(pair(i).newKey, 7_200_000);
  await redis.persist(pair(24).oldKey);
  await redis.pexpire(pair(17).newKey, 3_600_000);
  for (const i of [16, 17, 20, 24]) plant(i, ["ttl_differs"], noFields);
  for (const i of [25, 26, 27]) {
    await redis.del(pair(i).newKey);
    await redis.set(pair(i).newKey, "not a hash");
    plant(i, ["new_wrong_type"], noFields);
  }
  // Orphans: new keys of jobs that have no old key, and one under a foreign workspace.
  for (const id of ["ghost-1", "ghost-2", "ghost-3"]) {
    const ghost = { job_id: id, workspace_id: jobs[0]!.workspace_id };
    await redis.hset(newKeyOf(p, ghost), { job_id: id, workspace_id: ghost.workspace_id });
    out.push({ oldKey: oldKeyOf(p, id), newKey: newKeyOf(p, ghost), kinds: ["orphan"] });
  }
  await redis.del(pair(31).oldKey);
  out.push({ ...pair(31), kinds: ["orphan"] });
  const stray = { job_id: jobs[30]!.job_id, workspace_id: jobs[33]!.workspace_id };
  await redis.hset(newKeyOf(p, stray), { job_id: stray.job_id, workspace_id: stray.workspace_id });
  out.push({ oldKey: oldKeyOf(p, stray.job_id), newKey: newKeyOf(p, stray), kinds: ["orphan"] });

  const old = (id: string) => oldKeyOf(p, id);
  await redis.set(old("bad-string"), "ws-1");
  await redis.hset(old("bad-no-ws"), { job_id: "bad-no-ws", status: "pending" });
  await redis.hset(old("bad-ws"), { job_id: "bad-ws", workspace_id: "WS 1" });
  await redis.hset(old("bad-mismatch"), { job_id: "other", workspace_id: "ws-1" });
  await redis.hset(old("bad-no-job-id"), { workspace_id: "ws-1" });
  // What update_status leaves at an old key that is gone: old-schema writes are on.
  await redis.hset(old("bad-partial"), { status: "completed", finished_at: "1735689612000" });
  const unmigratable = {
    [old("bad-string")]: "not_a_hash",
    [old("bad-no-ws")]: "missing_workspace_id",
    [old("bad-ws")]: "invalid_workspace_id",
    [old("bad-mismatch")]: "job_id_mismatch",
    [old("bad-no-job-id")]: "missing_job_id",
    [old("bad-partial")]: "partial_hash",
  };
  return { divergences: out, unmigratable };
}

/** `kind` → how many planted divergences have it. */
export function countKinds(list: Planted[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const d of list) for (const k of d.kinds) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
}

/** Which master serves each key ("single" for a single instance). */
export function masterOf(redis: RedisClient, key: string): string {
  if (!(redis instanceof Cluster)) return "single";
  return redis.slots[calculateSlot(key)]![0]!;
}

/** A path in a new temporary directory (for --report, --metrics-file). */
export function tempFile(name: string): string {
  return join(mkdtempSync(join(tmpdir(), "jm-verify-")), name);
}

/** The records of a --report file, one JSON object per line. */
export function readReport(path: string): Reported[] {
  const lines = readFileSync(path, "utf8").split("\n").filter(Boolean);
  return lines.map((l) => JSON.parse(l) as Reported);
}
