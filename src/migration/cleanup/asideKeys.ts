import type { Redis } from "ioredis";
import { globPrefix, scanStep } from "../../engine/scanNode.js";
import { toArchiveLine } from "../shared/archive.js";
import { unlinkAll } from "./cleanupSingle.js";
import { displayBytes } from "../shared/keySchema.js";

export interface AsideSettled {
  /** Written to the archive, then deleted. */
  archived: number;
  /** Back under their own names, to be proven again. */
  restored: Buffer[];
  /** Left aside: their names were taken meanwhile (listed in the log). */
  stuck: Buffer[];
  /** Found and left alone (a dry run). */
  found: number;
}

/**
 * Keys `cleanup --archive` moved aside on a single instance and a crash left there
 * (proven, moved, but not yet archived or not yet deleted). Run before a cleanup's first
 * batch, under its lock. With an archive, each is written to it and then deleted; without
 * (`mode` "restore"), each goes back under its name (RENAMENX) to be proven again; "count"
 * (a dry run) changes nothing. Nothing is lost either way. Walks the keyspace only when
 * the count of keys aside says a run left some.
 */
export async function settleAside(
  client: Redis,
  asidePrefix: string,
  asideCount: string,
  mode: "archive" | "restore" | "count",
  archive?: (lines: string[]) => Promise<void>,
): Promise<AsideSettled> {
  const done: AsideSettled = { archived: 0, restored: [], stuck: [], found: 0 };
  // Runs count the keys they move aside and have not deleted yet: without a crash, none,
  // and no walk of the keyspace is needed.
  if (Number(await client.get(asideCount)) <= 0) return done;
  const spec = { match: globPrefix(asidePrefix) };
  const skip = Buffer.byteLength(asidePrefix);
  let cursor = "0";
  do {
    const step = await scanStep(client, cursor, spec, 1000);
    cursor = step.cursor;
    const keys = step.keys;
    done.found += keys.length;
    if (keys.length === 0 || mode === "count") continue;
    const names = keys.map((k) => k.subarray(skip));
    if (mode === "restore") {
      const p = client.pipeline();
      keys.forEach((k, i) => p.renamenx(k, names[i]!));
      const replies = (await p.exec()) ?? [];
      replies.forEach(([err, moved], i) => {
        if (err) throw err;
        if (moved === 1) done.restored.push(names[i]!);
        else done.stuck.push(names[i]!);
      });
      continue;
    }
    const p = client.pipeline();
    for (const k of keys) p.callBuffer("HGETALL", k).pttl(k);
    const replies = (await p.exec()) ?? [];
    const at = new Date().toISOString();
    const records: string[] = [];
    names.forEach((name, i) => {
      const [e1, flat] = replies[2 * i]!;
      const [e2, pttl] = replies[2 * i + 1]!;
      if (e1 || e2) throw e1 ?? e2;
      // Empty: its TTL ran out since the SCAN; gone by itself, nothing to archive.
      if ((flat as Buffer[]).length > 0)
        records.push(toArchiveLine(name, flat as Buffer[], Number(pttl), displayBytes(name), at));
    });
    if (records.length > 0) await archive!(records);
    await unlinkAll(client, keys);
    done.archived += keys.length;
  } while (cursor !== "0");
  if (mode !== "count" && done.stuck.length === 0) await client.del(asideCount);
  return done;
}
