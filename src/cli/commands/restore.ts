import { Command, Option } from "commander";
import { ExitCode, UsageError } from "../../errors.js";
import { withExitStatuses } from "../exitHelp.js";
import { restoreArchive } from "../../migration/cleanup/restore.js";
import { addCommonOptions, commonSchema, parseOptions } from "../options.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { formatCount } from "../render/style.js";
import { openTarget } from "../runContext.js";

export function restoreCommand(): Command {
  const cmd = new Command("restore")
    .summary("put back the hashes a cleanup --archive file holds")
    .description(
      "Restore every hash of a cleanup archive (JSON lines): fields byte for byte, original expiry time.\n" +
        "Keys that exist are left alone unless --force. Safe to run again.",
    )
    .addOption(new Option("--from <file>", "the archive written by cleanup --archive"))
    .option("--force", "overwrite keys that exist");
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.RedisUnavailable], {
    [ExitCode.Ok]: "completed: every hash of the archive restored, skipped (exists) or expired",
    [ExitCode.Usage]: "usage error, or an archive that cannot be read or is not an archive",
  });
  addCommonOptions(cmd).action(async (raw: Record<string, unknown>) => {
    const opts = parseOptions(commonSchema, raw);
    if (typeof raw.from !== "string" || raw.from === "")
      throw new UsageError("restore needs --from <archive file>");
    const target = await openTarget(opts);
    try {
      const result = await restoreArchive(target.client, raw.from, Boolean(raw.force));
      if (opts.json)
        writeJsonResult({
          subcommand: "restore",
          redis: target.where,
          topology: target.kind,
          exitCode: 0,
          ...result,
        });
      else {
        const rows = Object.entries(result.counts).map(
          ([k, v]) => `  ${k.padEnd(18)} ${formatCount(v).padStart(12)}`,
        );
        process.stdout.write(
          `restore of ${raw.from} completed on ${target.where}\n${rows.join("\n")}\n`,
        );
      }
    } finally {
      await target.close();
    }
  });
  return cmd;
}
