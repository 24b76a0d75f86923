import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { open, stat } from "node:fs/promises";
import { finished } from "node:stream/promises";
import { LocalFailureError } from "../errors.js";
import { fileFailureReason } from "../fileFailure.js";

export interface ReportWriterOptions {
  /** Append (an archive: a resumed run must never lose the records of the run before). */
  append?: boolean;
  /** What the file is, in error lines: "report file" (the default), "archive file". */
  what?: string;
}

/**
 * A report file of JSON lines, one record per line, streamed to disk so that memory
 * stays flat however many records a run finds. It does not redact: every job value in a
 * record must already have gone through redactValue (src/output/redact.ts).
 */
export class ReportWriter {
  /** The first write error; later writes and close() reject with it. */
  private failure: Error | undefined;
  private closed = false;

  private constructor(
    private readonly stream: WriteStream,
    readonly path: string,
    private readonly what: string,
  ) {
    // Without a listener an 'error' would crash the process; keep it for the next call.
    stream.on("error", (err) => {
      this.failure ??= this.writeFailure(err);
    });
  }

  /**
   * Create (or truncate, or with `append` extend) the file, mode 0600: redacted, records
   * still hold job data. Call it before the run starts: a missing or unwritable directory
   * is a LocalFailureError (exit 6) with one line, before any Redis work.
   */
  static async open(path: string, opts: ReportWriterOptions = {}): Promise<ReportWriter> {
    const what = opts.what ?? "report file";
    const stream = createWriteStream(path, { flags: opts.append ? "a" : "w", mode: 0o600 });
    try {
      await once(stream, "ready");
    } catch (err) {
      stream.destroy();
      throw new LocalFailureError(`cannot write the ${what} ${path}: ${fileFailureReason(err)}`, {
        cause: err,
      });
    }
    const writer = new ReportWriter(stream, path, what);
    // A write that failed half-way (a full disk) left a partial last line: the first new
    // record starts on a line of its own, so that it is not glued to that fragment.
    if (opts.append && !(await endsWithNewline(path))) await writer.writeLines(["\n"]);
    return writer;
  }

  /** Append one record; resolves once the stream can take more (backpressure). */
  async write(record: object): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error(`report file ${this.path} is already closed`);
    if (!this.stream.write(`${JSON.stringify(record)}\n`)) {
      try {
        await once(this.stream, "drain");
      } catch (err) {
        throw (this.failure ??= this.writeFailure(err));
      }
    }
  }

  /**
   * Append lines (each ending in a newline) and resolve once they are written to the file
   * (handed to the OS, so they survive this process being killed): an archive must hold
   * a hash before it is deleted.
   */
  async writeLines(lines: string[]): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error(`report file ${this.path} is already closed`);
    if (lines.length === 0) return;
    await new Promise<void>((resolve, reject) =>
      this.stream.write(lines.join(""), (err) =>
        err ? reject((this.failure ??= this.writeFailure(err))) : resolve(),
      ),
    );
  }

  /** Flush and close the file; rejects if any write failed (a report must be whole). */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.stream.end();
      try {
        await finished(this.stream);
      } catch (err) {
        this.failure ??= this.writeFailure(err);
      }
    }
    if (this.failure) throw this.failure;
  }

  private writeFailure(err: unknown): LocalFailureError {
    return new LocalFailureError(
      `writing the ${this.what} ${this.path} failed: ${fileFailureReason(err)}`,
      { cause: err },
    );
  }
}

/** true unless `path` is a regular file whose last byte is not a newline (a FIFO, a device: true). */
async function endsWithNewline(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile() || st.size === 0) return true;
  const file = await open(path, "r");
  try {
    const { buffer } = await file.read(Buffer.alloc(1), 0, 1, st.size - 1);
    return buffer[0] === 0x0a;
  } finally {
    await file.close();
  }
}
