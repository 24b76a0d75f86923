import { createWriteStream, type WriteStream } from "node:fs";
import type { ChainableCommander } from "ioredis";
import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import { pipelineErrors, type MethodCtx } from "../types.js";
import { newKeyOf } from "../verify/compare.js";

type Hash = Record<string, string>;

/** The same JSON line the tool writes per archived hash (fields as base64, bytes kept). */
function archiveLine(key: string, flat: Buffer[], pttlMs: number): string {
  const fields: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2)
    fields.push([flat[i]!.toString("base64"), flat[i + 1]!.toString("base64")]);
  const record = {
    key: Buffer.from(key).toString("base64"),
    fields,
    pttlMs,
    archivedAt: new Date().toISOString(),
    display: key,
  };
  return `${JSON.stringify(record)}\n`;
}

/** Append text and resolve once it is handed to the OS (what the tool waits for). */
const writeOut = (out: WriteStream, text: string) =>
  new Promise<void>((resolve, reject) => out.write(text, (e) => (e ? reject(e) : resolve())));

/** Old key → its fields as Buffers (bytes kept for the archive) and as strings. */
function decode(flat: Buffer[]): Hash {
  const h: Hash = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!.toString()] = flat[i + 1]!.toString();
  return h;
}

export interface CleanupTally {
  keys: number;
  deleted: number;
  /** Pairs found different or without a new key: the old key stays. */
  kept: number;
  /** Old keys without workspace_id (the seeded malformed 1%): no pair, never deleted. */
  unmigratable: number;
  seconds: number;
}

/** The tool's rule: the same fields, byte for byte (TTLs are not compared). */
function sameFields(o: Hash, n: Hash): boolean {
  let count = 0;
  for (const f in o) {
    if (n[f] !== o[f]) return false;
    count++;
  }
  return count === Object.keys(n).length;
}

/**
 * Baseline: the straightforward fast client. Per SCAN batch one pipeline of HGETALL for
 * the old keys, one per destination node for their new keys, the comparison in the client,
 * then one pipeline of UNLINK for the equal pairs' old keys (all on the scanned node). Not
 * race-safe (a write between the read and the UNLINK is lost), which the tool is.
 * With `archivePath`, as the tool's --archive: the old keys are read as bytes with their
 * PTTL, and each batch's equal pairs are written out as JSON lines before the UNLINK.
 */
export async function pipelinedCleanup(
  ctx: MethodCtx,
  archivePath?: string,
): Promise<CleanupTally> {
  const { target, batchSize, newPrefix } = ctx;
  const t0 = performance.now();
  const out = archivePath ? createWriteStream(archivePath, { flags: "a" }) : undefined;
  const perNode = await Promise.all(
    target.conns.map(async (conn) => {
      const t: CleanupTally = { keys: 0, deleted: 0, kept: 0, unmigratable: 0, seconds: 0 };
      for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, batchSize)) {
        const read = conn.pipeline();
        for (const key of batch) {
          // callBuffer: the flat reply (hgetallBuffer makes an object of it).
          if (out) read.callBuffer("HGETALL", key).pttl(key);
          else read.hgetall(key);
        }
        const replies = await read.exec();
        pipelineErrors(replies);
        const step = out ? 2 : 1;
        const olds = batch.map((_, i) => {
          const v = replies![step * i]![1];
          return [null, out ? decode(v as Buffer[]) : v] as const;
        });
        const pttls = out ? batch.map((_, i) => replies![2 * i + 1]![1] as number) : [];
        const raw = out ? batch.map((_, i) => replies![2 * i]![1] as Buffer[]) : [];
        // Per destination node: its pipeline and the old-key indexes it answers for.
        const news = new Map<number, { p: ChainableCommander; at: number[] }>();
        batch.forEach((key, i) => {
          const ws = (olds[i]![1] as Hash)["workspace_id"];
          if (!ws) return void t.unmigratable++;
          const newKey = newKeyOf(newPrefix, key, ws);
          const idx = target.indexFor(newKey);
          let n = news.get(idx);
          if (!n) news.set(idx, (n = { p: target.conns[idx]!.pipeline(), at: [] }));
          n.p.hgetall(newKey);
          n.at.push(i);
        });
        const equal: string[] = [];
        const equalAt: number[] = [];
        await Promise.all(
          [...news.values()].map(async ({ p, at }) => {
            const res = await p.exec();
            pipelineErrors(res);
            at.forEach((i, j) => {
              if (sameFields(olds[i]![1] as Hash, res![j]![1] as Hash)) {
                equal.push(batch[i]!);
                equalAt.push(i);
              } else t.kept++;
            });
          }),
        );
        if (out && equal.length > 0)
          await writeOut(
            out,
            equalAt.map((i) => archiveLine(batch[i]!, raw[i]!, pttls[i]!)).join(""),
          );
        if (equal.length > 0) {
          // One UNLINK per key: a multi-key UNLINK fails with CROSSSLOT on a cluster.
          const del = conn.pipeline();
          for (const key of equal) del.unlink(key);
          const res = await del.exec();
          pipelineErrors(res);
          for (const [, n] of res!) t.deleted += n as number;
        }
        t.keys += batch.length;
      }
      return t;
    }),
  );
  if (out)
    await new Promise<void>((resolve, reject) =>
      out.end((e?: Error | null) => (e ? reject(e) : resolve())),
    );
  const sum = (f: "keys" | "deleted" | "kept" | "unmigratable") =>
    perNode.reduce((a, t) => a + t[f], 0);
  return {
    keys: sum("keys"),
    deleted: sum("deleted"),
    kept: sum("kept"),
    unmigratable: sum("unmigratable"),
    seconds: (performance.now() - t0) / 1000,
  };
}
