/**
 * Run the built CLI as a child process, the way cron and SREs run it: no terminal, so no
 * colour or bar. By default the single-file build (`dist/bundle/jobs-migrate.mjs`, which
 * `npm test` builds from dist/ before vitest): the same compiled code as the npm launcher,
 * bundled, and it starts in half the time (0.2 s against 0.4-0.5 s here), which is most of
 * what a live test spends. The npm launcher (bin/jobs-migrate.js) is run by the demo test
 * and, installed from the packed tarball, by the pack test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// JOBS_MIGRATE_CLI_ENTRY runs another build instead: the npm launcher
// (JOBS_MIGRATE_CLI_ENTRY=bin/jobs-migrate.js npx vitest run), or one built outside dist/
// while dist/ is in use (/tmp/build/bin/jobs-migrate.js beside /tmp/build/dist/).
export const BIN = process.env.JOBS_MIGRATE_CLI_ENTRY
  ? resolve(process.env.JOBS_MIGRATE_CLI_ENTRY)
  : resolve(import.meta.dirname, "../../dist/bundle/jobs-migrate.mjs");
if (!existsSync(BIN))
  throw new Error(
    `${BIN} is missing: \`npm test\` builds it (npm run build && node scripts/bundle.mjs)`,
  );

// An empty working directory, so a developer's own .env never leaks into a test.
const CWD = mkdtempSync(join(tmpdir(), "jm-cli-"));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Run this executable instead of `node BIN` (an installed `jobs-migrate`, a bundle). */
  exe?: string;
}

function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C" };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Start the CLI; resolve `done` when it exits. */
export function startCli(
  args: string[],
  opts: CliOptions = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const [command, argv] = opts.exe ? [opts.exe, args] : [process.execPath, [BIN, ...args]];
  const child = spawn(command, argv, {
    cwd: CWD,
    env: childEnv(opts.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolvePromise) => {
    child.on("close", (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** Arguments that point the tool at a test's own prefixes and state keys. */
export function prefixArgs(prefix: string): string[] {
  return [
    "--old-prefix",
    `${prefix}ai:jobs:`,
    "--new-prefix",
    `${prefix}ai:job:`,
    "--state-prefix",
    `${prefix}jm:`,
  ];
}

/** The parsed --json result of a run (the last line of stdout). */
export function jsonOf(r: CliResult): Record<string, unknown> & { counts: Record<string, number> } {
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1] ?? "{}") as Record<string, unknown> & {
    counts: Record<string, number>;
  };
}

const helps = new Map<string, Promise<string>>();

/** What `jobs-migrate [sub] --help` prints (run once per subcommand). */
export function helpOf(sub?: string): Promise<string> {
  const key = sub ?? "";
  let help = helps.get(key);
  if (help === undefined) {
    help = runCli([...(sub ? [sub] : []), "--help"]).then((r) => r.stdout);
    helps.set(key, help);
  }
  return help;
}
