import { Command } from "commander";
import type { Registry } from "prom-client";
import { ExitCode } from "../../errors.js";
import { withExitStatuses } from "../exitHelp.js";
import { CONNECTION_ENV, withEnvironment, withExamples } from "../helpFooter.js";
import { unaccepted } from "../../migration/shared/baseline.js";
import { scopeOf, verify, type VerifyResult } from "../../migration/verify/verify.js";
import { ReportWriter } from "../../output/reportWriter.js";
import { commandSchema } from "../options/connection.js";
import { parseOptions } from "../options/fields.js";
import { addMetricsOptions, metricsShape } from "../options/metrics.js";
import { addRunCommandOptions, runCommandShape } from "../options/run.js";
import { addVerifyOptions, verifyProblem, verifyShape } from "../options/verify.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { divergencesOf, renderVerifySummary } from "../render/verifySummary.js";
import { openTarget, runSession, schemaOf } from "../runContext.js";
import { followSettings } from "../followOptions.js";
import { runFollow } from "../followRun.js";
import { endRunMetrics, failedRunMetrics, openRunMetrics } from "../runMetrics.js";

const verifySchema = commandSchema({
  ...runCommandShape,
  ...verifyShape,
  ...metricsShape,
}).superRefine((o, ctx) => {
  const problem = verifyProblem(o);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export function verifyCommand(): Command {
  const cmd = new Command("verify")
    .summary("diff every old/new pair field by field; report divergence by kind")
    .description(
      "Compare each old job hash with its new key, byte for byte, re-reading divergent pairs before calling\n" +
        "them confirmed (a pair caught between the application's two writes is transient), then look for orphan\n" +
        "new keys. Exit 0: clean; 1: confirmed divergence, orphans or unmigratable keys not accepted\n" +
        "(see `jobs-migrate accept`).\n" +
        "With --follow: runs until stopped, re-verifying each pair the application writes once it has been\n" +
        "quiet for --settle (keyspace notifications; --enable-notifications turns them on and back off);\n" +
        "exit 130 on SIGINT/SIGTERM with the session's summary, or after --for: 0 clean, 1 confirmed divergence.",
    );
  withExitStatuses(
    cmd,
    [
      ExitCode.Ok,
      ExitCode.ProblemsFound,
      ExitCode.RedisUnavailable,
      ExitCode.LockHeld,
      ExitCode.LocalFailure,
      ExitCode.Interrupted,
    ],
    {
      [ExitCode.Ok]:
        "clean: no confirmed divergence or orphan, no unmigratable key outside the accepted set",
      [ExitCode.ProblemsFound]:
        "completed, and found confirmed divergence, orphans or unmigratable keys not accepted",
      [ExitCode.LocalFailure]:
        "--report or --metrics-file could not be written (the message names it)",
    },
  );
  withExamples(withEnvironment(cmd, [...CONNECTION_ENV, "NO_COLOR"]), [
    "jobs-migrate verify --workspace ws-canary --json            # the canary's workspaces only",
    "jobs-migrate verify --follow --for 30m --workspace ws-canary   # canary: each pair the app writes",
    "jobs-migrate verify --metrics-file /var/lib/node_exporter/textfile/jobs_migrate.prom   # nightly",
    "jobs-migrate verify --repair --dry-run                       # what a repair would write",
  ]);
  addMetricsOptions(addVerifyOptions(addRunCommandOptions(cmd))).action(
    async (raw: Record<string, unknown>) => {
      const opts = parseOptions(verifySchema, raw);
      const following = followSettings(opts, opts);
      if (following) return runFollow(opts, opts, following);
      // Opened first: a path that cannot be written fails (exit 6) before any work.
      const metrics = await openRunMetrics(
        opts,
        "verify",
        scopeOf({ workspaces: opts.workspace, sample: opts.sample }),
        opts.progressInterval,
      );
      const report = opts.report ? await ReportWriter.open(opts.report) : undefined;
      const session = runSession(
        "verify",
        opts,
        ["checked", "equal", "transient", "confirmed", "unmigratable"],
        metrics,
      );
      let target;
      try {
        target = await openTarget(opts);
        const result = await verify(
          target,
          {
            schema: schemaOf(opts),
            ttlToleranceMs: opts.ttlTolerance,
            workspaces: opts.workspace,
            sample: opts.sample,
            orphans: opts.orphans,
            recheckRounds: opts.recheckRounds,
            recheckDelayMs: opts.recheckDelay,
            repair: opts.repair ? (opts.dryRun ? "dry-run" : "yes") : "no",
            readFrom: opts.readFrom,
            sink: report ? (r) => report.write(r) : undefined,
            // With --json, stdout carries one JSON object: the plan goes to stderr.
            plan: (line) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`),
          },
          session.settings,
        );
        session.close();
        await report?.close();
        // Accepted leftovers (`jobs-migrate accept`) are listed but fail nothing.
        const problems = (result.counts.confirmed ?? 0) + unaccepted(result.counts, "unmigratable");
        const exitCode = problems === 0 ? ExitCode.Ok : ExitCode.ProblemsFound;
        if (metrics)
          await endRunMetrics(metrics, exitCode, result.counts, await verifyMetrics(result));
        if (opts.json) {
          const { findings, ...rest } = result;
          writeJsonResult({
            subcommand: "verify",
            redis: target.where,
            topology: target.kind,
            exitCode,
            ...rest,
            divergences: divergencesOf(result),
            unmigratable: findings.filter(
              (f) => !f.data && f.reason !== "repair_failed" && !f.reason.startsWith("foreign "),
            ),
            foreign: findings
              .filter((f) => f.reason.startsWith("foreign "))
              .map((f) => ({ key: f.key, reason: f.reason.slice("foreign ".length) })),
            repairFailed: findings.filter((f) => f.reason === "repair_failed"),
          });
        } else {
          process.stdout.write(
            renderVerifySummary(result, target.where, target.kind, process.stdout),
          );
        }
        process.exitCode = exitCode;
      } catch (err) {
        await failedRunMetrics(metrics, err);
        throw err;
      } finally {
        session.close();
        await report?.close().catch(() => undefined);
        await target?.close();
      }
    },
  );
  return cmd;
}

/** verify's own gauges (jobs_migrate_verify_*), beside every run's. */
async function verifyMetrics(result: VerifyResult): Promise<Registry> {
  const { buildVerifyMetrics } = await import("../../output/metrics.js");
  return buildVerifyMetrics({
    runId: result.runId,
    scope: result.scope,
    finishedAt: new Date(result.finishedAt),
    durationSeconds: result.durationMs / 1000,
    clean: result.clean,
    counts: result.counts,
  });
}
