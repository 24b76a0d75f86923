/**
 * Old option names kept for one release after a rename (one name per idea across
 * subcommands): accepted, hidden from --help and completion, mapped to the new name before
 * the action sees the options, and announced by one warning line on stderr.
 */
import { Option, type Command } from "commander";
import { UsageError } from "../../errors.js";
import { warn } from "../logFormat.js";

const deprecation = (oldName: string, newName: string) =>
  `${oldName} is deprecated, use ${newName} (it will be removed in the next release)`;

/** The deprecation line an old name prints (as text), once per run. */
export function deprecationWarning(oldName: string, newName: string): string {
  return `jobs-migrate: warning: ${deprecation(oldName, newName)}`;
}

/**
 * Accept `oldFlags` ("--max-age <duration>", "--force") on `cmd` as a hidden alias of the
 * option `newName` ("--max-verify-age"), which `cmd` must already have. Giving both is a
 * usage error (exit 2): which one was meant cannot be told.
 */
export function addDeprecatedName(cmd: Command, oldFlags: string, newName: string): Command {
  const target = cmd.options.find((o) => o.long === newName);
  if (!target) throw new Error(`${cmd.name()} has no option ${newName} to alias`);
  const old = new Option(oldFlags).hideHelp();
  if (old.required !== target.required || old.optional !== target.optional)
    throw new Error(`${old.long} and ${newName} must take the same kind of value`);
  const [oldKey, newKey] = [old.attributeName(), target.attributeName()];
  // A preAction hook runs before the action reads cmd.opts(): the action sees the new name only.
  return cmd.addOption(old).hook("preAction", (hooked) => {
    if (hooked.getOptionValueSource(oldKey) !== "cli") return;
    if (hooked.getOptionValueSource(newKey) === "cli")
      throw new UsageError(
        `${old.long} and ${newName} are the same option (${old.long} is deprecated): give only ${newName}`,
      );
    warn(deprecation(old.long!, newName)); // a JSON line with --log-format json
    hooked.setOptionValueWithSource(newKey, hooked.getOptionValue(oldKey), "cli");
    hooked.setOptionValueWithSource(oldKey, undefined, undefined);
  });
}
