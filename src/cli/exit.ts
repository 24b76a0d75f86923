import { CommanderError } from "commander";
import { ExitCode, MigrateError } from "../errors.js";

/** Exit status for an internal error (a bug): EX_SOFTWARE, distinct from every documented code. */
export const INTERNAL_ERROR = 70;

/** Map any error to its exit status (DESIGN §4). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof MigrateError) return err.exitCode;
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  return INTERNAL_ERROR;
}

/**
 * The one line printed for an error: no stack trace, and every known secret replaced,
 * whatever the message came from.
 */
export function errorLine(err: unknown, secrets: readonly string[]): string {
  let msg: string;
  if (err instanceof MigrateError) msg = err.message;
  else if (err instanceof CommanderError) msg = err.message.replace(/^error: /, "");
  else msg = `internal error (please report): ${err instanceof Error ? err.message : String(err)}`;
  for (const s of secrets) if (s) msg = msg.split(s).join("***");
  return `jobs-migrate: ${msg.split("\n")[0]}`;
}
