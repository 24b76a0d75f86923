import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { ALL_EXIT_CODES, exitStatusTable } from "../../src/cli/exitHelp.js";
import { buildProgram } from "../../src/cli/main.js";
import { ExitCode } from "../../src/errors.js";

/** The help a command prints for `--help`, text added after it included. */
function helpOf(cmd: Command): string {
  let out = "";
  cmd.configureOutput({ writeOut: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

/** The codes of the "Exit status:" table in a help text. */
function listedCodes(help: string): number[] {
  const table = help.split("\nExit status:\n")[1] ?? "";
  return [...table.matchAll(/^ {2}(\d+) +\S/gm)].map((m) => Number(m[1]));
}

function find(path: string): Command {
  let cmd = buildProgram();
  for (const name of path.split(" ")) {
    const sub = cmd.commands.find((c) => c.name() === name);
    if (!sub) throw new Error(`no subcommand ${path}`);
    cmd = sub;
  }
  return cmd;
}

const { Ok, ProblemsFound, Usage, RedisUnavailable, LockHeld, GuardRefused } = ExitCode;
const { LocalFailure, Internal, Interrupted } = ExitCode;

describe("every subcommand's --help lists the exit statuses it can return, and only those", () => {
  it.each([
    ["backfill", [Ok, ProblemsFound, Usage, RedisUnavailable, LockHeld, Internal, Interrupted]],
    [
      "verify",
      [Ok, ProblemsFound, Usage, RedisUnavailable, LockHeld, LocalFailure, Internal, Interrupted],
    ],
    [
      "cleanup",
      [
        ...[Ok, ProblemsFound, Usage, RedisUnavailable, LockHeld, GuardRefused, LocalFailure],
        ...[Internal, Interrupted],
      ],
    ],
    ["restore", [Ok, Usage, RedisUnavailable, Internal]],
    ["flag", [Ok, ProblemsFound, Usage, RedisUnavailable, Internal]],
    ["flag set", [Ok, Usage, RedisUnavailable, Internal]],
    ["ctl", [Ok, Usage, RedisUnavailable, Internal]],
    ["locks", [Ok, Usage, RedisUnavailable, Internal]],
    ["locks release", [Ok, Usage, RedisUnavailable, LockHeld, Internal]],
    ["completion", [Ok, Usage, Internal]],
  ])("%s", (path, codes) => {
    const help = helpOf(find(path));
    expect(listedCodes(help)).toEqual(codes);
  });

  it("covers every subcommand there is", () => {
    const program = buildProgram();
    const paths = program.commands.flatMap((c) => [
      c.name(),
      ...c.commands.map((s) => `${c.name()} ${s.name()}`),
    ]);
    for (const path of paths) expect(listedCodes(helpOf(find(path))), path).not.toEqual([]);
  });

  it("the top-level help lists every status, 0 to 130", () => {
    expect(listedCodes(helpOf(buildProgram()))).toEqual([0, 1, 2, 3, 4, 5, 6, 70, 130]);
    expect(ALL_EXIT_CODES).toEqual([0, 1, 2, 3, 4, 5, 6, 70, 130]);
  });
});

describe("exitStatusTable", () => {
  it("sorts the codes, drops duplicates, and takes a subcommand's own wording", () => {
    expect(exitStatusTable([Usage, Ok, Usage], { [Ok]: "all copied" })).toBe(
      "\nExit status:\n  0    all copied\n  2    usage or configuration error (bad flag, number, URL or input file)",
    );
  });
});
