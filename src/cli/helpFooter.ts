import type { Command } from "commander";

/**
 * "Examples:" after a subcommand's `--help`: 2-4 command lines an SRE can copy, each one
 * using only options the subcommand takes (test/unit/helpFooter.test.ts checks them).
 */
export function withExamples(cmd: Command, examples: readonly string[]): Command {
  cmd.addHelpText("after", `\nExamples:\n${examples.map((e) => `  ${e}`).join("\n")}`);
  return cmd;
}

/** The variables a subcommand reads that are not an option's fallback (shown as "env:"). */
export const ENVIRONMENT = {
  REDIS_PASSWORD: "the password, when the URL has none (never printed)",
  REDIS_SENTINEL_USERNAME: "the Sentinels' own ACL user (not the master's)",
  REDIS_SENTINEL_PASSWORD: "the Sentinels' own password (never printed)",
  AI_JOBS_NEW_SCHEMA: "the application's flag as this environment sets it (on/off)",
  NO_COLOR: "any value: no colour (colour is also off when not on a terminal)",
} as const;

export type EnvironmentVariable = keyof typeof ENVIRONMENT;

/** What every subcommand reads: it connects. */
export const CONNECTION_ENV = [
  "REDIS_PASSWORD",
  "REDIS_SENTINEL_USERNAME",
  "REDIS_SENTINEL_PASSWORD",
] as const satisfies readonly EnvironmentVariable[];

/** "Environment:" after `--help`: the variables of ENVIRONMENT this subcommand reads. */
export function withEnvironment(cmd: Command, names: readonly EnvironmentVariable[]): Command {
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const rows = names.map((n) => `  ${n.padEnd(width)}${ENVIRONMENT[n]}`);
  cmd.addHelpText(
    "after",
    `\nEnvironment (also read from .env; an option's own variable is shown as "env:" above):\n${rows.join("\n")}`,
  );
  return cmd;
}
