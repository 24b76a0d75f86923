import { Command, CommanderError } from "commander";
import { config as loadDotenv } from "dotenv";
import { toolVersion } from "../version.js";
import { acceptCommand } from "./commands/accept.js";
import { backfillCommand } from "./commands/backfill.js";
import { cleanupCommand } from "./commands/cleanup.js";
import { completionCommand } from "./commands/completion.js";
import { ctlCommand } from "./commands/ctl.js";
import { flagCommand } from "./commands/flag.js";
import { locksCommand } from "./commands/locks.js";
import { restoreCommand } from "./commands/restore.js";
import { verifyCommand } from "./commands/verify.js";
import { ExitCode } from "../errors.js";
import { ALL_EXIT_CODES, exitStatusTable } from "./exitHelp.js";
import { errorLine, exitCodeFor, toUserError } from "./exit.js";
import { writeJsonError } from "./render/jsonResult.js";
import { knownSecrets, registerSecret, registerUrlSecret } from "./secrets.js";
import { jsonLogLine, logFormatOf, setLogFormat } from "./logFormat.js";

/** Commander reports usage errors by throwing (exit 2 is ours to set), in one line. */
function strict(cmd: Command): Command {
  cmd.exitOverride().configureOutput({ outputError: () => undefined });
  cmd.showSuggestionAfterError(true);
  for (const sub of cmd.commands) strict(sub);
  return cmd;
}

export function buildProgram(): Command {
  const program = new Command("jobs-migrate")
    .description(
      "Move Redis job hashes from ai:jobs:{job_id} to ai:job:{workspace_id}:{job_id}, safely and resumably.",
    )
    .version(toolVersion(), "-V, --version")
    .enablePositionalOptions()
    .addCommand(backfillCommand())
    .addCommand(verifyCommand())
    .addCommand(cleanupCommand())
    .addCommand(restoreCommand())
    .addCommand(acceptCommand())
    .addCommand(flagCommand())
    .addCommand(ctlCommand())
    .addCommand(locksCommand())
    .addCommand(completionCommand())
    .addHelpText("after", exitStatusTable(ALL_EXIT_CODES));
  return strict(program);
}

/** Entry point: parse, run, map any error to one line and its exit status. */
export async function main(argv: string[]): Promise<number> {
  loadDotenv({ quiet: true });
  registerUrlSecret(process.env.REDIS_URL);
  const urlIndex = argv.indexOf("--redis-url");
  if (urlIndex >= 0) registerUrlSecret(argv[urlIndex + 1]);
  for (const a of argv)
    if (a.startsWith("--redis-url=")) registerUrlSecret(a.slice("--redis-url=".length));
  registerSecret(process.env.REDIS_PASSWORD);
  registerSecret(process.env.REDIS_SENTINEL_PASSWORD);
  const json = argv.includes("--json");
  const format = logFormatOf(argv, process.env.JOBS_MIGRATE_LOG_FORMAT);
  setLogFormat(format);
  const stall = settleOnStall();
  try {
    await Promise.race([buildProgram().parseAsync(argv), stall.stalled]);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (caught) {
    if (caught instanceof CommanderError && caught.exitCode === 0) return 0;
    // No subcommand: commander has printed the help (on stderr); it is a usage error.
    if (caught instanceof CommanderError && caught.code === "commander.help") return ExitCode.Usage;
    const err = toUserError(caught);
    const code = exitCodeFor(err);
    const line = errorLine(err, knownSecrets());
    process.stderr.write(
      format === "json"
        ? jsonLogLine("error", { message: line.replace(/^jobs-migrate: /, ""), exitCode: code })
        : `${line}\n`,
    );
    if (json) writeJsonError(line.replace(/^jobs-migrate: /, ""), code);
    return code;
  } finally {
    stall.dispose();
  }
}

/**
 * Node emits 'beforeExit' when nothing is left to run: if the subcommand is still waiting
 * then, it waits on a promise that can never settle, and Node would end the process with
 * status 13 and no word. Say so instead, as the bug it is (70).
 */
function settleOnStall(): { stalled: Promise<never>; dispose(): void } {
  let onIdle: () => void = () => undefined;
  const stalled = new Promise<never>((_, reject) => {
    onIdle = () =>
      reject(
        new Error(
          "the command was left waiting for an answer that can never come (every connection and timer is gone)",
        ),
      );
  });
  process.once("beforeExit", onIdle);
  return { stalled, dispose: () => process.removeListener("beforeExit", onIdle) };
}
