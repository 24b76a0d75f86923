import type { Redis } from "ioredis";
import { commandBudget } from "../redis/commandBudget.js";

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
 * One SCAN batch on one node: `count` entries visited (SCAN COUNT), in SCAN calls of at
 * most the command budget's size each (a SCAN with a big COUNT holds the server too).
 * Keys come back as Buffers: key names, like values, are bytes and are never decoded. The
 * cursor is returned to the caller to checkpoint, unlike ioredis' scanStream, which hides
 * it and so cannot resume.
 */
export async function scanStep(
  client: Redis,
  cursor: string,
  spec: ScanSpec,
  count: number,
): Promise<ScanStep> {
  const keys: Buffer[] = [];
  // Even parts (a batch of 502 is two SCANs of 251, not 500 and 2).
  const step = Math.ceil(count / Math.ceil(count / commandBudget.scanCount));
  let left = count;
  do {
    const args: (string | number)[] = ["MATCH", spec.match, "COUNT", step];
    if (spec.type) args.push("TYPE", spec.type);
    const [next, found] = (await client.scanBuffer(cursor, ...(args as ["MATCH", string]))) as [
      Buffer,
      Buffer[],
    ];
    keys.push(...found);
    cursor = next.toString();
    left -= step;
  } while (left > 0 && cursor !== "0");
  return { cursor, keys };
}
