/**
 * Job hashes as the app writes them (fields from ../shared/seeds), seeded in bulk, and read
 * back as raw bytes: some values are deliberately not valid UTF-8, and a migration that
 * decodes them to strings would corrupt them without any error.
 */
import { isUtf8 } from "node:buffer";
import { Cluster } from "ioredis";
import type { RedisClient } from "./targets.js";

export type FieldValue = string | Buffer;

/** Enough to find both keys of a job. */
export interface JobRef {
  job_id: string;
  workspace_id: string;
}

export interface NewJob extends JobRef {
  action_provider: string;
  action_name: string;
  /** JSON text; a Buffer when it must carry bytes that are not UTF-8. */
  params: FieldValue;
  actor_id: string;
}

/** The hash `enqueue` writes, in the app's field order. */
export function pendingJobHash(job: NewJob): Map<string, FieldValue> {
  return new Map<string, FieldValue>([
    ["job_id", job.job_id],
    ["status", "pending"],
    ["action_provider", job.action_provider],
    ["action_name", job.action_name],
    ["params", job.params],
    ["workspace_id", job.workspace_id],
    ["actor_id", job.actor_id],
    ["result", ""],
    ["enqueued_at", new Date().toISOString()],
  ]);
}

/** JSON text whose string value holds 0xff 0xfe: valid bytes for Redis, invalid UTF-8. */
export function nonUtf8Json(key: string, label: string): Buffer {
  return Buffer.concat([
    Buffer.from(`{"${key}":"${label}-`),
    Buffer.from([0xff, 0xfe, 0x80 + Math.floor(Math.random() * 64)]),
    Buffer.from(`"}`),
  ]);
}

/** HSET arguments: field, value, field, value, … */
export function flatten(hash: Map<string, FieldValue>): FieldValue[] {
  return [...hash].flatMap(([field, value]) => [field, value]);
}

export interface SeedOptions {
  oldPrefix: string;
  count: number;
  /** How many workspaces (`ws-0`, `ws-1`, …) or their names; jobs are spread round-robin. */
  workspaces: number | string[];
  /** Default `job-`; ids are `<idPrefix><index>`. */
  idPrefix?: string;
}

const BATCH = 500;
const TTL_EVERY = 4;
const BINARY_EVERY = 3;
const SEEDED_STATES = ["pending", "running", "completed", "failed"] as const;

/**
 * Write `count` old-only jobs in mixed states: every 4th with a TTL (1 h and more, never
 * expiring during a test), every 3rd with non-UTF-8 bytes in `params`.
 */
export async function seedOldJobs(redis: RedisClient, opts: SeedOptions): Promise<JobRef[]> {
  const names =
    typeof opts.workspaces === "number"
      ? Array.from({ length: opts.workspaces }, (_, i) => `ws-${i}`)
      : opts.workspaces;
  if (names.length === 0) throw new Error("seedOldJobs needs at least one workspace");
  const refs: JobRef[] = [];
  for (let start = 0; start < opts.count; start += BATCH) {
    const batch: { key: string; fields: FieldValue[]; ttlMs?: number }[] = [];
    for (let i = start; i < Math.min(start + BATCH, opts.count); i++) {
      const ref = {
        job_id: `${opts.idPrefix ?? "job-"}${i}`,
        workspace_id: names[i % names.length]!,
      };
      refs.push(ref);
      batch.push({
        key: `${opts.oldPrefix}${ref.job_id}`,
        fields: flatten(seededJobHash(ref, i)),
        ttlMs: i % TTL_EVERY === 0 ? 3_600_000 + i : undefined,
      });
    }
    if (redis instanceof Cluster) {
      // Cluster pipelines must stay in one slot; concurrent commands pipeline per node anyway.
      await Promise.all(
        batch.flatMap(({ key, fields, ttlMs }) => [
          redis.hset(key, ...fields),
          ...(ttlMs === undefined ? [] : [redis.pexpire(key, ttlMs)]),
        ]),
      );
    } else {
      const pipe = redis.pipeline();
      for (const { key, fields, ttlMs } of batch) {
        pipe.hset(key, ...fields);
        if (ttlMs !== undefined) pipe.pexpire(key, ttlMs);
      }
      const failed = (await pipe.exec())?.find(([err]) => err !== null);
      if (failed) throw failed[0];
    }
  }
  return refs;
}

function seededJobHash(ref: JobRef, i: number): Map<string, FieldValue> {
  const params = i % BINARY_EVERY === 0 ? nonUtf8Json("blob", `p${i}`) : `{"to":"user${i}@x.test"}`;
  const hash = pendingJobHash({
    ...ref,
    action_provider: "google",
    action_name: "gmail.send",
    params,
    actor_id: `user-${i % 17}`,
  });
  const status = SEEDED_STATES[i % SEEDED_STATES.length]!;
  hash.set("status", status);
  const at = new Date(Date.UTC(2025, 9, 17, 0, 0, i % 60)).toISOString();
  if (status !== "pending") hash.set("started_at", at);
  if (status === "completed" || status === "failed") {
    hash.set("finished_at", at);
    hash.set("result", `{"ok":${status === "completed"}}`);
  }
  return hash;
}

/** HGETALL as raw bytes (field names are ASCII, values may not be UTF-8). */
export async function readHashBuffers(
  redis: RedisClient,
  key: string,
): Promise<Map<string, Buffer>> {
  return new Map(Object.entries(await redis.hgetallBuffer(key)));
}

/** Same fields, same bytes. */
export function sameHash(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  if (a.size !== b.size) return false;
  for (const [field, value] of a) {
    const other = b.get(field);
    if (other === undefined || !other.equals(value)) return false;
  }
  return true;
}

/** For readable assertion diffs: UTF-8 values as text, others as `hex:…`. */
export function hashForDiff(hash: Map<string, Buffer>): Record<string, string> {
  return Object.fromEntries(
    [...hash].map(([f, v]) => [f, isUtf8(v) ? v.toString() : `hex:${v.toString("hex")}`]),
  );
}
