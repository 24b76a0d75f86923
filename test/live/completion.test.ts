/**
 * `jobs-migrate completion bash|zsh`, as a user installs it: the printed bash script,
 * sourced in a real bash, completes subcommands, options and an option's fixed values
 * (driven the way bash's programmable completion calls it: COMP_WORDS, COMP_CWORD, and
 * COMPREPLY read back); the zsh script parses (`zsh -n`) and names every subcommand.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { runCli } from "../support/cli.js";

const DIR = mkdtempSync(join(tmpdir(), "jm-completion-"));
const SUBCOMMANDS = buildProgram().commands.map((c) => c.name());

/** The script `completion <shell>` prints, saved to a file; it must exit 0, stderr empty. */
async function script(shell: string): Promise<string> {
  const r = await runCli(["completion", shell]);
  expect([r.code, r.stderr]).toEqual([0, ""]);
  const file = join(DIR, shell);
  writeFileSync(file, r.stdout);
  return file;
}

/** What bash offers at the end of `line` (a trailing space: a new, empty word). */
function complete(file: string, line: string): string[] {
  const driver = [
    'source "$1"',
    'read -ra COMP_WORDS <<< "$2"',
    '[[ $2 == *" " ]] && COMP_WORDS+=("")',
    "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))",
    "_jobs_migrate",
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const out = execFileSync("bash", ["-c", driver, "bash", file, line], { encoding: "utf8" });
  return out.split("\n").filter(Boolean);
}

describe("completion bash", () => {
  it("completes subcommands, options and an option's fixed values", async () => {
    const file = await script("bash");
    expect(complete(file, "jobs-migrate cl")).toEqual(["cleanup"]);
    expect(complete(file, "jobs-migrate cleanup --si")).toEqual(["--side"]);
    expect(complete(file, "jobs-migrate cleanup --side ")).toEqual(["old", "new"]);
    expect(complete(file, "jobs-migrate verify --read-from r")).toEqual(["replicas"]);
    expect(complete(file, "jobs-migrate flag --require ready-")).toEqual([
      "ready-for-read-flip",
      "ready-for-cleanup",
    ]);
    expect(complete(file, "jobs-migrate locks ")).toEqual(["release"]);
    expect(complete(file, "jobs-migrate completion ")).toEqual(["bash", "zsh"]);
    expect(complete(file, "jobs-migrate ")).toEqual(SUBCOMMANDS);
  });

  it("offers the new names only, never a deprecated one", async () => {
    const file = await script("bash");
    expect(complete(file, "jobs-migrate cleanup --o")).toEqual([
      "--override-guard",
      "--old-prefix",
    ]);
    expect(complete(file, "jobs-migrate restore --f")).toEqual(["--from"]);
    expect(complete(file, "jobs-migrate flag --max-")).toEqual([
      "--max-verify-age",
      "--max-command-ms",
    ]);
    expect(complete(file, "jobs-migrate backfill --sa")).toEqual([]);
  });
});

describe("completion zsh", () => {
  // Its syntax is not checked here (zsh -n): npm test needs only Node and redis-server, and a
  // fresh machine has no zsh. `zsh -n` passed by hand (README, "Shell completion").
  it("is a #compdef script naming every subcommand and only current option names", async () => {
    const file = await script("zsh");
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(/^#compdef jobs-migrate\n/);
    for (const name of SUBCOMMANDS) expect(text, name).toMatch(new RegExp(`^ +'${name}:`, "m"));
    // The new names; --force only as the confirmation of locks release.
    expect(text).not.toMatch(/--max-age|--sample-size/);
    expect(text.match(/'--force\[/g)).toEqual(["'--force["]);
    expect(text).toMatch(/^_jobs_migrate_locks_release\(\) \{\n.*\n.*\n {4}'--force\[/m);
  });
});

describe("completion for another shell", () => {
  it("is a usage error: one line, exit 2, nothing on stdout", async () => {
    const r = await runCli(["completion", "fish"]);
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toMatch(/^jobs-migrate: .*'fish'.*bash, zsh\.\n$/);
  });

  it("takes no connection option: it needs no Redis", async () => {
    const r = await runCli(["completion", "bash", "--redis-url", "redis://127.0.0.1:1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^jobs-migrate: unknown option '--redis-url'/);
  });
});
