import { Command, Option } from "commander";
import { z } from "zod";
import { ExitCode, LocalFailureError } from "../../errors.js";
import { withExitStatuses } from "../exitHelp.js";
import { CONNECTION_ENV, withEnvironment, withExamples } from "../helpFooter.js";
import { cleanup } from "../../migration/cleanup/cleanup.js";
import { ReportWriter } from "../../output/reportWriter.js";
import { commandSchema } from "../options/connection.js";
import { addDeprecatedName } from "../options/deprecated.js";
import { duration, on, parseOptions } from "../options/fields.js";
import { addMetricsOptions, metricsShape } from "../options/metrics.js";
import { addRunCommandOptions, runCommandShape } from "../options/run.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { renderSummary } from "../render/runSummary.js";
import { openTarget, runSession, schemaOf } from "../runContext.js";
import { endRunMetrics, failedRunMetrics, openRunMetrics } from "../runMetrics.js";

const cleanupSchema = commandSchema({
  ...runCommandShape,
  ...metricsShape,
  execute: on(),
  overrideGuard: on(),
  side: z.enum(["old", "new"]),
  archive: z.string().min(1).optional(),
  flagKey: z.string().min(1).optional(),
  maxVerifyAge: duration("--max-verify-age"),
});

export function cleanupCommand(): Command {
  const cmd = new Command("cleanup")
    .summary("delete old keys proven equal to their new keys (dry run unless --execute)")
    .description(
      "Delete each old job key only after proving, at that instant, that its new key exists and equals it\n" +
        "(compare-and-delete). Dry run by default. With --execute it refuses (exit 5) unless a verify of the whole\n" +
        "keyspace completed clean within --max-verify-age and AI_JOBS_NEW_SCHEMA is on; --override-guard overrides.\n" +
        "--side new deletes new keys instead (abort before the read flip; needs the flag off).",
    )
    .option("--execute", "delete for real (otherwise report what would be deleted)")
    .option("--override-guard", "override the guard (recent clean verify, flag position); logged")
    .addOption(
      new Option("--side <side>", "which key of an equal pair to delete")
        .choices(["old", "new"])
        .default("old"),
    )
    .addOption(
      new Option(
        "--archive <file>",
        "write each hash as JSON lines before deleting it (for restore)",
      ),
    )
    .addOption(
      new Option("--flag-key <key>", "the Redis key where the team keeps AI_JOBS_NEW_SCHEMA").env(
        "JOBS_MIGRATE_FLAG_KEY",
      ),
    )
    .addOption(
      new Option("--max-verify-age <duration>", "how recent the clean verify must be").default(
        "24h",
      ),
    );
  addDeprecatedName(cmd, "--force", "--override-guard");
  withExitStatuses(
    cmd,
    [
      ExitCode.Ok,
      ExitCode.ProblemsFound,
      ExitCode.RedisUnavailable,
      ExitCode.LockHeld,
      ExitCode.GuardRefused,
      ExitCode.LocalFailure,
      ExitCode.Interrupted,
    ],
    {
      [ExitCode.ProblemsFound]:
        "completed, and kept pairs that differ, lack a new key, or are unmigratable",
      [ExitCode.GuardRefused]:
        "refused: no recent clean verify, the flag in the wrong position, or old-schema writes still on",
      [ExitCode.LocalFailure]:
        "the --archive file could not be written; no key was deleted without its archive line",
    },
  );
  withExamples(withEnvironment(cmd, [...CONNECTION_ENV, "AI_JOBS_NEW_SCHEMA", "NO_COLOR"]), [
    "jobs-migrate cleanup                                         # dry run: what would be deleted",
    "AI_JOBS_NEW_SCHEMA=on jobs-migrate cleanup --execute --archive old-jobs.jsonl",
    "AI_JOBS_NEW_SCHEMA=off jobs-migrate cleanup --side new --execute   # abort before the read flip",
  ]);
  addMetricsOptions(addRunCommandOptions(cmd)).action(async (raw: Record<string, unknown>) => {
    const opts = parseOptions(cleanupSchema, raw);
    // Opened first: a path that cannot be written fails (exit 6) before any work.
    const metrics = await openRunMetrics(opts, "cleanup", "all", opts.progressInterval);
    const archive =
      opts.archive && opts.execute
        ? await ReportWriter.open(opts.archive, { append: true, what: "archive file" })
        : undefined;
    const highlight = ["deleted", "wouldDelete", "differs", "newMissing", "unmigratable"];
    const session = runSession("cleanup", opts, highlight, metrics);
    let target;
    try {
      target = await openTarget(opts);
      const result = await cleanup(
        target,
        {
          schema: schemaOf(opts),
          side: opts.side,
          execute: opts.execute,
          force: opts.overrideGuard,
          archive: archive ? (lines) => archive.writeLines(lines).catch(keptUnarchived) : undefined,
          guard: {
            maxVerifyAgeMs: opts.maxVerifyAge,
            envFlag: process.env.AI_JOBS_NEW_SCHEMA,
            flagKey: opts.flagKey,
          },
        },
        session.settings,
      );
      session.close();
      await archive?.close();
      const exitCode = result.clean ? ExitCode.Ok : ExitCode.ProblemsFound;
      await endRunMetrics(metrics, exitCode, result.counts);
      if (opts.json)
        writeJsonResult({
          subcommand: "cleanup",
          redis: target.where,
          topology: target.kind,
          exitCode,
          ...result,
        });
      else {
        const mode = `${target.kind}, ${result.executed ? "executed" : "dry run: nothing deleted"}, side ${result.side}`;
        process.stdout.write(renderSummary(result, target.where, mode, process.stdout));
      }
      process.exitCode = exitCode;
    } catch (err) {
      await failedRunMetrics(metrics, err);
      throw err;
    } finally {
      session.close();
      await archive?.close().catch(() => undefined);
      await target?.close();
    }
  });
  return cmd;
}

/**
 * An archive write failed (a full disk): the keys of that batch were not deleted (each
 * is deleted only once its line is written), and the line says so.
 */
function keptUnarchived(err: unknown): never {
  if (!(err instanceof LocalFailureError)) throw err;
  throw new LocalFailureError(
    `${err.message}; every key whose archive line was not written is kept (run cleanup --execute --archive again to go on)`,
    { cause: err },
  );
}
