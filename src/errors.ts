/**
 * The one error hierarchy of the tool. Every error that should reach the user carries
 * the exit status DESIGN §4 documents; the CLI maps them to a single line in one place
 * (src/cli/exit.ts). Messages must never contain secrets.
 */

/** Exit statuses, the same for every subcommand (DESIGN §4). */
export const ExitCode = {
  Ok: 0,
  ProblemsFound: 1,
  Usage: 2,
  RedisUnavailable: 3,
  LockHeld: 4,
  GuardRefused: 5,
  LocalFailure: 6,
  /** A bug (EX_SOFTWARE): no error of this hierarchy carries it. */
  Internal: 70,
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class MigrateError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags, bad numbers, a malformed URL, a checkpoint made with other options. */
export class UsageError extends MigrateError {
  readonly exitCode = ExitCode.Usage;
}

/** Unreachable host, failed auth, or a command that kept failing after retries. */
export class RedisUnavailableError extends MigrateError {
  readonly exitCode = ExitCode.RedisUnavailable;
}

/** Another live run holds the lock for this subcommand and scope. */
export class LockHeldError extends MigrateError {
  readonly exitCode = ExitCode.LockHeld;
}

/** A safety guard refused to proceed (e.g. cleanup without a recent clean verify). */
export class GuardRefusedError extends MigrateError {
  readonly exitCode = ExitCode.GuardRefused;
}

/**
 * A local file could not be written (or read back): a full disk, a missing or unwritable
 * directory, a path that is a directory. Never a Redis outage, never a bug.
 */
export class LocalFailureError extends MigrateError {
  readonly exitCode = ExitCode.LocalFailure;
}

/** SIGINT/SIGTERM: the batch in flight was finished and the checkpoint saved. */
export class InterruptedError extends MigrateError {
  readonly exitCode = ExitCode.Interrupted;
}
