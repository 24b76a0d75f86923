import { Command } from "commander";
import { ExitCode } from "../../errors.js";
import { withExitStatuses } from "../exitHelp.js";
import { CONNECTION_ENV, withEnvironment, withExamples } from "../helpFooter.js";
import { backfill, reverseBackfill } from "../../migration/backfill/backfill.js";
import { commandSchema } from "../options/connection.js";
import { on, parseOptions } from "../options/fields.js";
import { addMetricsOptions, metricsShape } from "../options/metrics.js";
import { addRunCommandOptions, runCommandShape } from "../options/run.js";
import { renderSummary } from "../render/runSummary.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { openTarget, runSession, schemaOf } from "../runContext.js";
import { endRunMetrics, failedRunMetrics, openRunMetrics } from "../runMetrics.js";

const backfillSchema = commandSchema({
  ...runCommandShape,
  ...metricsShape,
  reverse: on(),
  recreateMissing: on(),
}).refine((o) => !o.recreateMissing || o.reverse, "--recreate-missing only applies to --reverse");

export function backfillCommand(): Command {
  const cmd = new Command("backfill")
    .summary("copy every old job hash to its new key (where absent), resumably")
    .description(
      "Copy each old job hash ai:jobs:{job_id} to ai:job:{workspace_id}:{job_id} when the new key is absent,\n" +
        "bytes and TTL preserved; atomic on a single instance, copy-then-confirm on a Cluster.\n" +
        "Malformed old keys are skipped, counted and listed. Exit 0: all copied or present; 1: unmigratable keys.",
    );
  cmd
    .option("--reverse", "rollback: rebuild old keys from new ones (after cleanup began)")
    .option(
      "--recreate-missing",
      "with --reverse: also create old keys for jobs that never had one",
    );
  withExitStatuses(
    cmd,
    [
      ExitCode.Ok,
      ExitCode.ProblemsFound,
      ExitCode.RedisUnavailable,
      ExitCode.LockHeld,
      ExitCode.Interrupted,
    ],
    {
      [ExitCode.Ok]: "completed; every old job copied or already present",
      [ExitCode.ProblemsFound]:
        "completed, and found unmigratable or unstable keys (--reverse: conflicts)",
    },
  );
  withExamples(withEnvironment(cmd, [...CONNECTION_ENV, "NO_COLOR"]), [
    "jobs-migrate backfill --redis-url redis://redis.internal:6379 --rate 5000",
    "jobs-migrate backfill --max-latency 20 --max-memory 90     # pause while the server is busy",
    "jobs-migrate backfill --reverse                            # rollback: rebuild the old keys",
    "jobs-migrate backfill --pushgateway http://pushgateway:9091   # progress and result to Prometheus",
  ]);
  addMetricsOptions(addRunCommandOptions(cmd)).action(async (raw: Record<string, unknown>) => {
    const opts = parseOptions(backfillSchema, raw);
    const name = opts.reverse ? "backfill-reverse" : "backfill";
    const metrics = await openRunMetrics(opts, name, "all", opts.progressInterval);
    const target = await openTarget(opts);
    const highlight = [
      "copied",
      "alreadyPresent",
      "unmigratable",
      "repaired",
      "unstable",
      "rebuilt",
      "repairedPartial",
      "conflict",
    ];
    const session = runSession("backfill", opts, highlight, metrics);
    try {
      const result = opts.reverse
        ? await reverseBackfill(target, schemaOf(opts), opts.recreateMissing, session.settings)
        : await backfill(target, schemaOf(opts), session.settings);
      session.close();
      const exitCode = result.clean ? ExitCode.Ok : ExitCode.ProblemsFound;
      await endRunMetrics(metrics, exitCode, result.counts);
      if (opts.json)
        writeJsonResult({
          subcommand: "backfill",
          redis: target.where,
          topology: target.kind,
          exitCode,
          ...result,
        });
      else
        process.stdout.write(
          renderSummary(result, target.where, `${target.kind}, ${result.mode}`, process.stdout),
        );
      process.exitCode = exitCode;
    } catch (err) {
      await failedRunMetrics(metrics, err);
      throw err;
    } finally {
      session.close();
      await target.close();
    }
  });
  return cmd;
}
