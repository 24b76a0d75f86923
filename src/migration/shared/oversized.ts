import type { Redis } from "ioredis";
import type { BatchOutcome } from "../../engine/runSpec.js";
import { commandBudget } from "../../redis/commandBudget.js";
import { displayBytes } from "./keySchema.js";

/** A key too big for one command within the budget, and its size. */
export interface Oversized {
  key: Buffer;
  bytes: number;
}

/**
 * Of these keys of one node, those bigger than one short command can handle (MEMORY
 * USAGE with every field counted), with their sizes. Plain pipelined commands, a few
 * microseconds each: asked only about keys whose command turned out long, or was skipped.
 */
export async function oversizedAmong(node: Redis, keys: Buffer[]): Promise<Oversized[]> {
  const sizes = await Promise.all(keys.map((k) => node.memory("USAGE", k, "SAMPLES", 0)));
  return keys.flatMap((key, i) => {
    const bytes = Number(sizes[i] ?? 0);
    return bytes > commandBudget.maxKeyBytes ? [{ key, bytes }] : [];
  });
}

/** Count and list oversized keys in a batch's outcome (`what`: what was done about them). */
export function listOversized(out: BatchOutcome, found: Oversized[], what: string): void {
  for (const { key, bytes } of found) {
    out.counts.oversized = (out.counts.oversized ?? 0) + 1;
    out.findings.push({
      key: displayBytes(key),
      reason: "oversized",
      detail: `${bytes} bytes: ${what}`,
    });
  }
}
