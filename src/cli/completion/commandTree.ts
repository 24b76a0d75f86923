/**
 * What a shell needs to complete a command line, read off the commander program itself
 * (so a completion script cannot go stale): each subcommand, the options its --help shows
 * (deprecated names are hidden, so they are left out), which options take a value and the
 * fixed values an option or an argument allows.
 */
import type { Command } from "commander";

export interface CompletionOption {
  /** The long name and the short one if any: ["--version", "-V"]. */
  names: string[];
  description: string;
  /** The value's name ("file", "duration"), when the option takes one. */
  valueName: string | undefined;
  /** The value may be left out ("--cluster [yes|no]"). */
  valueOptional: boolean;
  /** The values the option allows, when they are a fixed set (`Option.choices()`). */
  choices: readonly string[];
}

export interface CompletionCommand {
  /** The words that run it after the program's name: [] for the program, ["locks", "release"]. */
  path: string[];
  description: string;
  options: CompletionOption[];
  subcommands: CompletionCommand[];
  /** The fixed values of its positional arguments (`Argument.choices()`), in order. */
  argumentChoices: string[];
}

/** The completion tree of `cmd` (the program) and every subcommand below it. */
export function completionTree(cmd: Command, path: string[] = []): CompletionCommand {
  const help = cmd.createHelp();
  return {
    path,
    description: cmd.summary() || firstLine(cmd.description()),
    options: help.visibleOptions(cmd).map((o) => {
      const valueName = /<([^>]+)>|\[([^\]]+)\]/.exec(o.flags)?.slice(1).find(Boolean);
      // "--cluster [yes|no]": the value's name lists the values.
      const listed = valueName && /^\w+(\|\w+)+$/.test(valueName) ? valueName.split("|") : [];
      return {
        names: [o.long, o.short].filter((n): n is string => n !== undefined),
        description: firstLine(o.description),
        valueName,
        valueOptional: o.optional,
        choices: o.argChoices ?? listed,
      };
    }),
    // Not the implicit `help` command (not in cmd.commands): `<sub> --help` is the documented way.
    subcommands: help
      .visibleCommands(cmd)
      .filter((c) => cmd.commands.includes(c))
      .map((c) => completionTree(c, [...path, c.name()])),
    argumentChoices: cmd.registeredArguments.flatMap((a) => a.argChoices ?? []),
  };
}

/** Every command of the tree, the program first, parents before their subcommands. */
export function allCommands(root: CompletionCommand): CompletionCommand[] {
  return [root, ...root.subcommands.flatMap(allCommands)];
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.trim();
}
