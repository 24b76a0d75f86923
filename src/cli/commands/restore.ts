import { Command, Option } from "commander";
import { z } from "zod";
import { ExitCode } from "../../errors.js";
import { withExitStatuses } from "../exitHelp.js";
import { CONNECTION_ENV, withEnvironment, withExamples } from "../helpFooter.js";
import { restoreArchive } from "../../migration/cleanup/restore.js";
import {
  addConnectionOptions,
  addJsonOption,
  commandSchema,
  jsonShape,
} from "../options/connection.js";
import { addDeprecatedName } from "../options/deprecated.js";
import { on, parseOptions } from "../options/fields.js";
import { addMetricsOptions, metricsShape } from "../options/metrics.js";
import { addBudgetOption, budgetShape } from "../options/run.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { formatCount } from "../render/style.js";
import { openTarget } from "../runContext.js";
import { endRunMetrics, failedRunMetrics, openRunMetrics } from "../runMetrics.js";

const restoreSchema = commandSchema({
  ...budgetShape,
  ...metricsShape,
  ...jsonShape,
  from: z
    .string({ error: "restore needs --from <archive file>" })
    .min(1, "restore needs --from <archive file>"),
  overwrite: on(),
});

export function restoreCommand(): Command {
  const cmd = new Command("restore")
    .summary("put back the hashes a cleanup --archive file holds")
    .description(
      "Restore every hash of a cleanup archive (JSON lines): fields byte for byte, original expiry time.\n" +
        "Keys that exist are left alone unless --overwrite. Safe to run again.",
    )
    .addOption(new Option("--from <file>", "the archive written by cleanup --archive"))
    .option("--overwrite", "overwrite keys that exist");
  addDeprecatedName(cmd, "--force", "--overwrite");
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.RedisUnavailable], {
    [ExitCode.Ok]: "completed: every hash of the archive restored, skipped (exists) or expired",
    [ExitCode.Usage]: "usage error, or an archive that cannot be read or is not an archive",
  });
  withExamples(withEnvironment(cmd, [...CONNECTION_ENV]), [
    "jobs-migrate restore --from old-jobs.jsonl",
    "jobs-migrate restore --from old-jobs.jsonl --overwrite --json    # overwrite keys that exist",
  ]);
  addJsonOption(addMetricsOptions(addBudgetOption(addConnectionOptions(cmd)))).action(
    async (raw: Record<string, unknown>) => {
      const opts = parseOptions(restoreSchema, raw);
      // restore reports its result only (it has no progress events).
      const metrics = await openRunMetrics(opts, "restore", "all");
      const target = await openTarget(opts);
      try {
        const result = await restoreArchive(target.client, opts.from, opts.overwrite);
        await endRunMetrics(metrics, ExitCode.Ok, result.counts);
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
            `restore of ${opts.from} completed on ${target.where}\n${rows.join("\n")}\n`,
          );
        }
      } catch (err) {
        await failedRunMetrics(metrics, err);
        throw err;
      } finally {
        await target.close();
      }
    },
  );
  return cmd;
}
