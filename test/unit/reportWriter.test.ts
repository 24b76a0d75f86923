import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExitCode, LocalFailureError } from "../../src/errors.js";
import { redactValue } from "../../src/output/redact.js";
import { ReportWriter } from "../../src/output/reportWriter.js";

// A collection before each measurement, so that only what is still referenced counts.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Memory the writer could be hoarding: JS heap plus Buffers queued in the stream. */
function retainedBytes(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "report-writer-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readLines(path: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of createInterface({ input: createReadStream(path) })) lines.push(line);
  return lines;
}

describe("ReportWriter", () => {
  it("writes 100k records as 100k JSON lines with memory that stays flat", async () => {
    const n = 100_000;
    const path = join(dir, "report.jsonl");
    const writer = await ReportWriter.open(path);
    const detail = "d".repeat(400);
    const before = retainedBytes();
    let peak = 0;
    for (let i = 0; i < n; i++) {
      await writer.write({ i, key: `ai:jobs:job-${i}`, kind: "field_differs", detail });
      if (i % 20_000 === 19_999) peak = Math.max(peak, retainedBytes() - before);
    }
    await writer.close();

    // ~45 MB go through the writer; a writer ignoring backpressure would hold all of it.
    expect(peak).toBeLessThan(8 * 1024 * 1024);
    const lines = await readLines(path);
    expect(lines).toHaveLength(n);
    lines.forEach((line, i) => {
      const record = JSON.parse(line);
      expect(record.i).toBe(i);
    });
  });

  it("creates the report readable by its owner only", async () => {
    const path = join(dir, "report.jsonl");
    const writer = await ReportWriter.open(path);
    await writer.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("truncates an existing report instead of appending to it", async () => {
    const path = join(dir, "report.jsonl");
    await writeFile(path, "old line\n");
    const writer = await ReportWriter.open(path);
    await writer.write({ fresh: true });
    await writer.close();
    expect(await readFile(path, "utf8")).toBe('{"fresh":true}\n');
  });

  it("keeps values that were redacted before writing redacted in the file", async () => {
    const secret = "s3cr3t-V4lue-42";
    const path = join(dir, "report.jsonl");
    const writer = await ReportWriter.open(path);
    const params = Buffer.from(JSON.stringify({ headers: { Authorization: `Bearer ${secret}` } }));
    await writer.write({
      key: "ai:jobs:job-1",
      field: "params",
      old: redactValue("params", params),
      new: redactValue("api_key", Buffer.from(secret)),
    });
    await writer.close();
    const text = await readFile(path, "utf8");
    expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toMatchObject({ old: '{"headers":{"Authorization":"[REDACTED]"}}' });
    expect(JSON.parse(text)).toMatchObject({ new: "[REDACTED]" });
  });

  it.each([
    [
      "a directory that does not exist",
      () => join(dir, "missing", "report.jsonl"),
      /directory does not exist/,
    ],
    ["a parent that is a file", () => join(dir, "file", "report.jsonl"), /not a directory/],
    ["a path that is a directory", () => dir, /is a directory/],
  ])("refuses %s with a one-line LocalFailureError (exit 6)", async (_name, pathOf, reason) => {
    await writeFile(join(dir, "file"), "");
    const path = pathOf();
    const err = await ReportWriter.open(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LocalFailureError);
    expect((err as LocalFailureError).exitCode).toBe(ExitCode.LocalFailure);
    expect((err as LocalFailureError).message).toMatch(reason);
    expect((err as LocalFailureError).message).toContain(`the report file ${path}`);
    expect((err as LocalFailureError).message).not.toContain("\n");
  });

  it("names what the file is: an archive", async () => {
    const path = join(dir, "missing", "archive.jsonl");
    await expect(ReportWriter.open(path, { append: true, what: "archive file" })).rejects.toThrow(
      `cannot write the archive file ${path}: its directory does not exist`,
    );
  });

  it("fails a write on a full disk with a LocalFailureError naming the file (exit 6), in write, writeLines and close", async () => {
    // /dev/full opens like a file and fails every write with ENOSPC.
    const lines = await ReportWriter.open("/dev/full", { append: true, what: "archive file" });
    const failed = await lines.writeLines(["{}\n"]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(LocalFailureError);
    expect((failed as Error).message).toBe(
      "writing the archive file /dev/full failed: no space left on the device",
    );
    await expect(lines.close()).rejects.toBe(failed);

    const records = await ReportWriter.open("/dev/full");
    await records.write({ a: 1 });
    await expect(records.close()).rejects.toThrow(
      "writing the report file /dev/full failed: no space left on the device",
    );
  });

  it("appends on a line of its own after a partial last line (a write that failed half-way)", async () => {
    const path = join(dir, "archive.jsonl");
    await writeFile(path, '{"whole":1}\n{"cut sh');
    const writer = await ReportWriter.open(path, { append: true });
    await writer.writeLines(['{"next":2}\n']);
    await writer.close();
    expect(await readFile(path, "utf8")).toBe('{"whole":1}\n{"cut sh\n{"next":2}\n');

    const again = await ReportWriter.open(path, { append: true });
    await again.writeLines(['{"more":3}\n']);
    await again.close();
    expect((await readFile(path, "utf8")).endsWith('{"next":2}\n{"more":3}\n')).toBe(true);
  });

  it("refuses writes after close", async () => {
    const writer = await ReportWriter.open(join(dir, "report.jsonl"));
    await writer.close();
    await expect(writer.write({ late: true })).rejects.toThrow(/already closed/);
  });
});
