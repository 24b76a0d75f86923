import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { ENVIRONMENT } from "../../src/cli/helpFooter.js";
import { buildProgram } from "../../src/cli/main.js";

const ROOT = resolve(import.meta.dirname, "../..");

function helpOf(cmd: Command): string {
  let out = "";
  cmd.configureOutput({ writeOut: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

/** Every subcommand, with its path ("locks release"). */
function subcommands(cmd: Command, path: string[] = []): [string, Command][] {
  return cmd.commands.flatMap((c) => {
    const here = [...path, c.name()];
    return [[here.join(" "), c] as [string, Command], ...subcommands(c, here)];
  });
}

/** The lines under a help section's title line ("Examples:"), up to the next blank line. */
function section(help: string, title: string): string[] {
  const after = help.split(`\n${title}`)[1];
  if (after === undefined) return [];
  return after.split("\n\n")[0]!.split("\n").slice(1).filter(Boolean);
}

/** The command an example runs, and its --options, after VAR=value words and before a #. */
function parseExample(line: string): { path: string[]; options: string[] } {
  const words = line.split(" # ")[0]!.trim().split(/\s+/);
  while (/^[A-Z_]+=/.test(words[0] ?? "")) words.shift();
  expect(words.shift(), line).toBe("jobs-migrate");
  const path: string[] = [];
  let cmd: Command = buildProgram();
  for (const w of words) {
    const sub = cmd.commands.find((c) => c.name() === w);
    if (!sub) break;
    path.push(w);
    cmd = sub;
  }
  return { path, options: words.filter((w) => w.startsWith("--")).map((w) => w.split("=")[0]!) };
}

const all = subcommands(buildProgram());

describe("every subcommand's --help", () => {
  it.each(all)("%s shows 2-4 examples using only options it takes", (name, cmd) => {
    const examples = section(helpOf(cmd), "Examples:");
    expect(examples.length, name).toBeGreaterThanOrEqual(2);
    expect(examples.length, name).toBeLessThanOrEqual(4);
    for (const line of examples) {
      const { path, options } = parseExample(line.trim());
      // An example runs this subcommand or one of its own (locks → locks release).
      const ran =
        path.join(" ") === name ? cmd : cmd.commands.find((c) => c.name() === path.at(-1));
      expect(ran, line).toBeDefined();
      expect(path.slice(0, name.split(" ").length).join(" "), line).toBe(name);
      // Not a deprecated name (hidden): the examples teach the names that stay.
      const known = new Set(ran!.options.filter((o) => !o.hidden).map((o) => o.long));
      for (const o of options) expect(known.has(o), `${line}: ${o}`).toBe(true);
    }
  });

  it.each(all)("%s lists the environment variables it reads beside its options", (name, cmd) => {
    const rows = section(helpOf(cmd), "Environment");
    for (const row of rows) expect(Object.keys(ENVIRONMENT)).toContain(row.trim().split(" ")[0]);
    // Every subcommand that connects reads the password; one that needs no Redis
    // (completion) reads no variable and shows no such section.
    if (cmd.options.some((o) => o.long === "--redis-url"))
      expect(rows.join("\n"), name).toContain("REDIS_PASSWORD");
    else expect(rows, name).toEqual([]);
  });
});

describe("environment variables", () => {
  const optionVariables = new Set(
    all.flatMap(([, c]) => c.options.map((o) => o.envVar).filter((v) => v !== undefined)),
  );
  const sources = readdirSync(join(ROOT, "src"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => readFileSync(join(ROOT, "src", f), "utf8"));
  const read = new Set(
    sources.flatMap((s) => [...s.matchAll(/process\.env\.([A-Z_]+)/g)].map((m) => m[1]!)),
  );

  it("every variable the code reads is an option's fallback, listed in --help, or the OS's", () => {
    const os = ["USER", "LOGNAME", "HOME"];
    for (const v of read)
      expect(optionVariables.has(v) || v in ENVIRONMENT || os.includes(v), v).toBe(true);
  });

  it(".env.example documents every variable the tool reads", () => {
    const example = readFileSync(join(ROOT, ".env.example"), "utf8");
    for (const v of [...optionVariables, ...Object.keys(ENVIRONMENT)])
      expect(example, v).toMatch(new RegExp(`^#? ?${v}=`, "m"));
  });
});
