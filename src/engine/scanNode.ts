import type { Redis } from "ioredis";

export interface ScanSpec {
  /** Glob for SCAN MATCH (already escaped by the caller). */
  match: string;
  /** SCAN TYPE filter, e.g. "hash"; undefined scans every type. */
  type?: string | undefined;
}

export interface ScanStep {
  cursor: string;
  keys: Buffer[];
}

/** Escape glob metacharacters so a prefix matches only itself in SCAN MATCH. */
export function globPrefix(prefix: string): string {
  return `${prefix.replace(/[\\*?[\]]/g, (c) => `\\${c}`)}*`;
}

/**
 * One SCAN step on one node. Keys come back as Buffers: key names, like values, are
 * bytes and are never decoded. The cursor is returned to the caller to checkpoint,
 * unlike ioredis' scanStream, which hides it and so cannot resume.
 */
export async function scanStep(
  client: Redis,
  cursor: string,
  spec: ScanSpec,
  count: number,
): Promise<ScanStep> {
  const args: (string | number)[] = ["MATCH", spec.match, "COUNT", count];
  if (spec.type) args.push("TYPE", spec.type);
  const [next, keys] = (await client.scanBuffer(cursor, ...(args as ["MATCH", string]))) as [
    Buffer,
    Buffer[],
  ];
  return { cursor: next.toString(), keys };
}
