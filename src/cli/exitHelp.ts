import type { Command } from "commander";
import { ExitCode } from "../errors.js";

/** What each status means, the same for every subcommand (README "Exit status"). */
const MEANING: Record<ExitCode, string> = {
  [ExitCode.Ok]: "completed; nothing wrong found",
  [ExitCode.ProblemsFound]: "completed, and found problems",
  [ExitCode.Usage]: "usage or configuration error (bad flag, number, URL or input file)",
  [ExitCode.RedisUnavailable]:
    "Redis unreachable, authentication failed, connection lost, or a command kept failing",
  [ExitCode.LockHeld]: "another run holds the lock (the message names it)",
  [ExitCode.GuardRefused]: "a safety guard refused",
  [ExitCode.LocalFailure]:
    "a local file could not be written (full disk, missing or unwritable directory); the message names it",
  [ExitCode.Internal]: "internal error: a bug, please report it with the line printed",
  [ExitCode.Interrupted]: "interrupted (SIGINT/SIGTERM); checkpoint saved, running again resumes",
};

/** Every status the tool can end with, in order. */
export const ALL_EXIT_CODES = (Object.values(ExitCode) as ExitCode[]).sort((a, b) => a - b);

/**
 * The "Exit status:" table for `--help`: the codes given (the ones a subcommand can
 * return), each with its general meaning or the subcommand's own wording of it.
 */
export function exitStatusTable(
  codes: readonly ExitCode[],
  own: Partial<Record<ExitCode, string>> = {},
): string {
  const rows = [...new Set(codes)]
    .sort((a, b) => a - b)
    .map((c) => `  ${String(c).padEnd(5)}${own[c] ?? MEANING[c]}`);
  return `\nExit status:\n${rows.join("\n")}`;
}

/**
 * List a subcommand's exit statuses after its `--help`. Every subcommand may also end with
 * a usage error (2) and a bug (70): they are added here.
 */
export function withExitStatuses(
  cmd: Command,
  codes: readonly ExitCode[],
  own: Partial<Record<ExitCode, string>> = {},
): Command {
  return cmd.addHelpText(
    "after",
    exitStatusTable([...codes, ExitCode.Usage, ExitCode.Internal], own),
  );
}
