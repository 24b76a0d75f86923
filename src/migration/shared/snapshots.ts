import type { Redis } from "ioredis";
import { commandBudget } from "../../redis/commandBudget.js";

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

/** Snapshot many old keys of one node (short script calls, pipelined). */
export async function dumpJobs(
  node: Redis,
  keys: Buffer[],
  onSlow?: (keys: Buffer[]) => void,
): Promise<JobDump[]> {
  const flat = (
    await commandBudget.inChunks(
      node,
      "dumpJobs",
      keys.length,
      (a, b) => node.dumpJobsBuffer(...keys.slice(a, b)),
      onSlow && ((a, b) => onSlow(keys.slice(a, b))),
    )
  ).flat();
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
  onSlow?: (keys: Buffer[]) => void,
): Promise<boolean[]> {
  const codes = (
    await commandBudget.inChunks(
      node,
      "restoreIfAbsent",
      items.length,
      (a, b) => {
        const chunk = items.slice(a, b);
        const args: (Buffer | number)[] = chunk.map((i) => i.newKey);
        for (const { snap } of chunk) args.push(snap.pttl, snap.dump!);
        return node.restoreIfAbsent(chunk.length, ...args);
      },
      onSlow && ((a, b) => onSlow(items.slice(a, b).map((i) => i.newKey))),
    )
  ).join("");
  return items.map((_, j) => codes[j] === "1");
}

/** For many keys of one node: does each still DUMP exactly as before? */
export async function unchangedSince(
  node: Redis,
  items: { oldKey: Buffer; snap: JobDump }[],
): Promise<boolean[]> {
  const codes = (
    await commandBudget.inChunks(node, "unchangedSince", items.length, (a, b) => {
      const chunk = items.slice(a, b);
      const args = [...chunk.map((i) => i.oldKey), ...chunk.map((i) => i.snap.dump!)];
      return node.unchangedSince(chunk.length, ...args);
    })
  ).join("");
  return items.map((_, j) => codes[j] === "1");
}
