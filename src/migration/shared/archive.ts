import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { UsageError } from "../../errors.js";

/**
 * One deleted hash in an archive file (JSON lines): key and every field as base64, so
 * any bytes survive, and the remaining TTL at deletion (-1: none).
 */
export interface ArchiveRecord {
  key: string;
  fields: [string, string][];
  pttlMs: number;
  archivedAt: string;
  /** Human-readable key, for grep. */
  display: string;
}

/**
 * One archive line (an ArchiveRecord as JSON, newline included). Built as text: base64
 * needs no escaping, and this runs for every deleted key. `flat`: field, value, field,
 * value… as Redis returns them (HGETALL).
 */
export function toArchiveLine(
  key: Buffer,
  flat: Buffer[],
  pttlMs: number,
  display: string,
  archivedAt: string = new Date().toISOString(),
): string {
  let fields = "";
  for (let i = 0; i + 1 < flat.length; i += 2)
    fields += `${i ? "," : ""}["${flat[i]!.toString("base64")}","${flat[i + 1]!.toString("base64")}"]`;
  return `{"key":"${key.toString("base64")}","fields":[${fields}],"pttlMs":${pttlMs},"archivedAt":${JSON.stringify(archivedAt)},"display":${JSON.stringify(display)}}\n`;
}

export interface ArchivedHash {
  key: Buffer;
  pairs: Buffer[];
  /** Absolute expiry (unix ms) the key had when archived; 0: none. */
  expireAtMs: number;
}

/** Read an archive back, line by line (flat memory); a malformed line is a usage error. */
export async function* readArchive(path: string): AsyncGenerator<ArchivedHash> {
  const stream = createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", (err) =>
      reject(
        new UsageError(
          `cannot read archive ${path}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
        ),
      ),
    );
  });
  await opened;
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    line++;
    if (text.trim() === "") continue;
    let r: ArchiveRecord;
    try {
      r = JSON.parse(text) as ArchiveRecord;
      if (typeof r.key !== "string" || !Array.isArray(r.fields) || typeof r.pttlMs !== "number")
        throw new Error("shape");
    } catch {
      throw new UsageError(`archive ${path} line ${line} is not an archive record`);
    }
    yield {
      key: Buffer.from(r.key, "base64"),
      pairs: r.fields.flatMap(([f, v]) => [Buffer.from(f, "base64"), Buffer.from(v, "base64")]),
      expireAtMs: r.pttlMs > 0 ? Date.parse(r.archivedAt) + r.pttlMs : 0,
    };
  }
}
