import { Command, CommanderError } from "commander";
import { config as loadDotenv } from "dotenv";
import { toolVersion } from "../version.js";
import { backfillCommand } from "./commands/backfill.js";
import { cleanupCommand } from "./commands/cleanup.js";
import { ctlCommand } from "./commands/ctl.js";
import { flagCommand } from "./commands/flag.js";
import { locksCommand } from "./commands/locks.js";
import { restoreCommand } from "./commands/restore.js";
import { verifyCommand } from "./commands/verify.js";
import { errorLine, exitCodeFor } from "./exit.js";
import { writeJsonError } from "./render/jsonResult.js";
import { knownSecrets, registerSecret, registerUrlSecret } from "./secrets.js";

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
    .addCommand(flagCommand())
    .addCommand(ctlCommand())
    .addCommand(locksCommand());
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
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return 0;
    const code = exitCodeFor(err);
    const line = errorLine(err, knownSecrets());
    process.stderr.write(`${line}\n`);
    if (json) writeJsonError(line.replace(/^jobs-migrate: /, ""), code);
    return code;
  }
}
