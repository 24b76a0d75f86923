import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { finished } from "node:stream/promises";
import { UsageError } from "../errors.js";

/**
 * A report file of JSON lines, one record per line, streamed to disk so that memory
 * stays flat however many records a run finds. It does not redact: every job value in a
 * record must already have gone through redactValue (src/verify/redact.ts).
 */
export class ReportWriter {
  /** The first write error; later writes and close() reject with it. */
  private failure: Error | undefined;
  private closed = false;

  private constructor(
    private readonly stream: WriteStream,
    readonly path: string,
  ) {
    // Without a listener an 'error' would crash the process; keep it for the next call.
    stream.on("error", (err) => {
      this.failure ??= writeFailure(path, err);
    });
  }

  /**
   * Create (or truncate) the report file, mode 0600: redacted, records still hold job
   * data. Call it before the run starts: a missing or unwritable directory is a
   * UsageError (exit 2) with one line, before any Redis work.
   */
  static async open(path: string, opts: { append?: boolean } = {}): Promise<ReportWriter> {
    // Append: an archive must never lose the records of a run being resumed.
    const stream = createWriteStream(path, { flags: opts.append ? "a" : "w", mode: 0o600 });
    try {
      await once(stream, "ready");
    } catch (err) {
      stream.destroy();
      throw new UsageError(`cannot write the report file ${path}: ${reasonOf(err)}`);
    }
    return new ReportWriter(stream, path);
  }

  /** Append one record; resolves once the stream can take more (backpressure). */
  async write(record: object): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error(`report file ${this.path} is already closed`);
    if (!this.stream.write(`${JSON.stringify(record)}\n`)) {
      try {
        await once(this.stream, "drain");
      } catch (err) {
        throw (this.failure ??= writeFailure(this.path, err));
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
        err ? reject((this.failure ??= writeFailure(this.path, err))) : resolve(),
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
        this.failure ??= writeFailure(this.path, err);
      }
    }
    if (this.failure) throw this.failure;
  }
}

function writeFailure(path: string, err: unknown): Error {
  return new Error(`writing the report file ${path} failed: ${reasonOf(err)}`, { cause: err });
}

function reasonOf(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return "its directory does not exist";
    case "ENOTDIR":
      return "a parent of it is not a directory";
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    case "ENOSPC":
      return "no space left on the device";
    default:
      return err instanceof Error ? err.message.split("\n")[0] : String(err);
  }
}
