import { Command, Option } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { buildProgram, main } from "../../src/cli/main.js";
import { addDeprecatedName, deprecationWarning } from "../../src/cli/options/deprecated.js";

const URL_ARGS = ["--redis-url", "redis://127.0.0.1:1"];

// [subcommand, old name, new name, the value both are given (none: a switch)]
const RENAMES: [string, string, string, string | undefined][] = [
  ["flag", "--max-age", "--max-verify-age", "1ms"],
  ["cleanup", "--force", "--override-guard", undefined],
  ["restore", "--force", "--overwrite", undefined],
  ["backfill", "--sample-size", "--list-limit", "5"],
  ["verify", "--sample-size", "--list-limit", "5"],
  ["cleanup", "--sample-size", "--list-limit", "5"],
];

let stderr: MockInstance<typeof process.stderr.write>;
beforeEach(() => {
  stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The raw options `sub`'s action is handed for `args` (the action itself does not run). */
async function optionsFor(sub: string, args: string[]): Promise<Record<string, unknown>> {
  const program = buildProgram();
  let seen: Record<string, unknown> | undefined;
  program.commands
    .find((c) => c.name() === sub)!
    .action((raw: Record<string, unknown>) => {
      seen = raw;
    });
  await program.parseAsync([sub, ...URL_ARGS, ...args], { from: "user" });
  expect(seen, `${sub} ${args.join(" ")}: the action did not run`).toBeDefined();
  // The old name's own key is left undefined: the action reads the new one only.
  return Object.fromEntries(Object.entries(seen!).filter(([, v]) => v !== undefined));
}

function helpOf(cmd: Command): string {
  let out = "";
  cmd.configureOutput({ writeOut: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

const argsOf = (name: string, value: string | undefined) =>
  value === undefined ? [name] : [name, value];

describe.each(RENAMES)("%s %s (renamed %s)", (sub, oldName, newName, value) => {
  it("still works, handing the action exactly what the new name does", async () => {
    const viaNew = await optionsFor(sub, argsOf(newName, value));
    expect(stderr).not.toHaveBeenCalled();
    const viaOld = await optionsFor(sub, argsOf(oldName, value));
    expect(viaOld).toEqual(viaNew);
    expect(Object.values(viaNew)).toContain(value ?? true);
  });

  it("prints the deprecation line on stderr, once", async () => {
    await optionsFor(sub, argsOf(oldName, value));
    expect(stderr.mock.calls).toEqual([
      [
        `jobs-migrate: warning: ${oldName} is deprecated, use ${newName} (it will be removed in the next release)\n`,
      ],
    ]);
  });

  it("beside the new name is a usage error: one line, exit 2, the action never runs", async () => {
    const argv = ["node", "jobs-migrate", sub, ...URL_ARGS];
    const code = await main([...argv, ...argsOf(oldName, value), ...argsOf(newName, value)]);
    expect(code).toBe(2);
    expect(stderr.mock.calls).toEqual([
      [
        `jobs-migrate: ${oldName} and ${newName} are the same option (${oldName} is deprecated): give only ${newName}\n`,
      ],
    ]);
  });

  it("is hidden from --help, where the new name is shown", () => {
    const help = helpOf(buildProgram().commands.find((c) => c.name() === sub)!);
    expect(help).toMatch(new RegExp(`\\s${newName}\\b`));
    expect(help).not.toMatch(new RegExp(`${oldName}\\b`));
  });
});

describe("addDeprecatedName", () => {
  it("refuses to alias an option the command does not have", () => {
    expect(() => addDeprecatedName(new Command("x"), "--old", "--new")).toThrow(/no option --new/);
  });

  it("refuses an alias that takes another kind of value than the new name", () => {
    const cmd = new Command("x").option("--new <n>");
    expect(() => addDeprecatedName(cmd, "--old", "--new")).toThrow(/same kind of value/);
  });

  it("lets the old name win over the new name's environment variable (a flag beats env)", async () => {
    vi.stubEnv("NEW_FROM_ENV", "from-env");
    const cmd = new Command("x").exitOverride();
    cmd.addOption(new Option("--new <v>").env("NEW_FROM_ENV"));
    addDeprecatedName(cmd, "--old <v>", "--new");
    let seen: unknown;
    cmd.action((o: { new?: string }) => {
      seen = o.new;
    });
    await cmd.parseAsync(["--old", "from-flag"], { from: "user" });
    expect(seen).toBe("from-flag");
    expect(stderr.mock.calls).toEqual([[`${deprecationWarning("--old", "--new")}\n`]]);
    vi.unstubAllEnvs();
  });
});

describe("--force", () => {
  it("keeps its one meaning, the confirmation of locks release, in --help", () => {
    const locks = buildProgram().commands.find((c) => c.name() === "locks")!;
    expect(helpOf(locks.commands.find((c) => c.name() === "release")!)).toMatch(/\s--force\s/);
  });
});
