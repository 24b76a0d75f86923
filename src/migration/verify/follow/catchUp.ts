import type { Redis } from "ioredis";
import { globPrefix, scanStep } from "../../../engine/scanNode.js";

export interface SweepResult {
  scanned: number;
  touched: number;
  /** The server does not track idle times (an LFU maxmemory-policy): every key was taken. */
  idleUnknown: boolean;
}

/**
 * A catch-up sweep of one master after a gap in its events: SCAN the prefixes and take
 * every key written since `sinceMs`, as OBJECT IDLETIME says (O(1), and it does not touch
 * the key). Idle times count reads too and have a one-second grain, so the sweep takes
 * more keys than were written, never fewer; with an LFU policy Redis keeps no idle time
 * and every key is taken. Commands are short: SCAN within the command budget, then one
 * pipelined OBJECT IDLETIME per key found.
 */
export async function sweepSince(
  node: Redis,
  prefixes: string[],
  sinceMs: number,
  count: number,
  onKey: (key: Buffer, idleMs: number) => void,
  signal?: AbortSignal,
): Promise<SweepResult> {
  const out: SweepResult = { scanned: 0, touched: 0, idleUnknown: false };
  for (const prefix of prefixes) {
    let cursor = "0";
    do {
      if (signal?.aborted) return out;
      const step = await scanStep(node, cursor, { match: globPrefix(prefix) }, count);
      cursor = step.cursor;
      if (step.keys.length === 0) continue;
      const idle = await node.pipeline(step.keys.map((k) => ["object", "idletime", k])).exec();
      // One-second grain (a key written at sinceMs may read a second more idle), plus one.
      const maxIdleS = Math.ceil((Date.now() - sinceMs) / 1000) + 1;
      step.keys.forEach((key, i) => {
        out.scanned++;
        const [err, seconds] = idle?.[i] ?? [new Error("no reply"), null];
        if (!err && seconds === null) return; // gone since SCAN saw it
        if (err && /LFU/.test(String(err))) out.idleUnknown = true;
        // An error (LFU, a key moving away) cannot prove the key quiet: take it.
        const s = err ? 0 : Number(seconds);
        if (s > maxIdleS) return;
        out.touched++;
        onKey(key, s * 1000);
      });
    } while (cursor !== "0");
  }
  return out;
}
