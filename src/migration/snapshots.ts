import type { Redis } from "ioredis";

/** One old job key as dumpJobs-0.lua saw it. */
export interface JobDump {
  type: string;
  pttl: number;
  workspaceId: Buffer | undefined;
  jobId: Buffer | undefined;
  /** DUMP payload: the exact value, carried as one opaque Buffer. */
  dump: Buffer | undefined;
  hasStatus: boolean;
}

const orUndefined = (v: Buffer | number | null | undefined): Buffer | undefined =>
  Buffer.isBuffer(v) ? v : undefined;

/** Snapshot many old keys of one node in one script call. */
export async function dumpJobs(node: Redis, keys: Buffer[]): Promise<JobDump[]> {
  const flat = await node.dumpJobsBuffer(...keys);
  const out: JobDump[] = [];
  for (let i = 0; i < flat.length; i += 6) {
    out.push({
      type: String(flat[i]),
      pttl: Number(flat[i + 1]),
      workspaceId: orUndefined(flat[i + 2]),
      jobId: orUndefined(flat[i + 3]),
      dump: orUndefined(flat[i + 4]),
      hasStatus: Number(flat[i + 5]) === 1,
    });
  }
  return out;
}

/** Restore many new keys of one node, each only if absent; true where created. */
export async function restoreIfAbsent(
  node: Redis,
  items: { newKey: Buffer; snap: JobDump }[],
): Promise<boolean[]> {
  const args: (Buffer | number)[] = items.map((i) => i.newKey);
  for (const { snap } of items) args.push(snap.pttl, snap.dump!);
  const codes = await node.restoreIfAbsent(items.length, ...args);
  return items.map((_, j) => codes[j] === "1");
}

/** For many keys of one node: does each still DUMP exactly as before? */
export async function unchangedSince(
  node: Redis,
  items: { oldKey: Buffer; snap: JobDump }[],
): Promise<boolean[]> {
  const args: Buffer[] = [...items.map((i) => i.oldKey), ...items.map((i) => i.snap.dump!)];
  const codes = await node.unchangedSince(items.length, ...args);
  return items.map((_, j) => codes[j] === "1");
}
