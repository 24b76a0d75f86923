import { Command } from "commander";
import { ExitCode } from "../../errors.js";
import { withExitStatuses } from "../exitHelp.js";
import { unaccepted } from "../../migration/shared/baseline.js";
import { verify, type VerifyResult } from "../../migration/verify/verify.js";
import { ReportWriter } from "../../output/reportWriter.js";
import { addCommonOptions, commonSchema, parseOptions } from "../options.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { divergencesOf, renderVerifySummary } from "../render/verifySummary.js";
import { openTarget, runSession, schemaOf } from "../runContext.js";
import { addVerifyOptions, verifySchema } from "../verifyOptions.js";
import { followSettings } from "../followOptions.js";
import { runFollow } from "../followRun.js";

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
  addVerifyOptions(addCommonOptions(cmd)).action(async (raw: Record<string, unknown>) => {
    const opts = parseOptions(commonSchema, raw);
    const v = parseOptions(verifySchema, raw);
    const following = followSettings(opts, v);
    if (following) return runFollow(opts, v, following);
    // Opened first: a report path that cannot be written fails (exit 6) before any work.
    if (v.metricsFile)
      await (await import("../../output/metrics.js")).checkTextfilePath(v.metricsFile);
    const report = v.report ? await ReportWriter.open(v.report) : undefined;
    const session = runSession("verify", opts, [
      "checked",
      "equal",
      "transient",
      "confirmed",
      "unmigratable",
    ]);
    let target;
    try {
      target = await openTarget(opts);
      const result = await verify(
        target,
        {
          schema: schemaOf(opts),
          ttlToleranceMs: v.ttlTolerance,
          workspaces: v.workspace,
          sample: v.sample,
          orphans: v.orphans,
          recheckRounds: v.recheckRounds,
          recheckDelayMs: v.recheckDelay,
          repair: v.repair ? (v.dryRun ? "dry-run" : "yes") : "no",
          readFrom: v.readFrom,
          sink: report ? (r) => report.write(r) : undefined,
          // With --json, stdout carries one JSON object: the plan goes to stderr.
          plan: (line) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`),
        },
        session.settings,
      );
      session.close();
      await report?.close();
      await publishMetrics(result, v.metricsFile, v.pushgateway);
      // Accepted leftovers (`jobs-migrate accept`) are listed but fail nothing.
      const problems = (result.counts.confirmed ?? 0) + unaccepted(result.counts, "unmigratable");
      const exitCode = problems === 0 ? ExitCode.Ok : ExitCode.ProblemsFound;
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
    } finally {
      session.close();
      await report?.close().catch(() => undefined);
      await target?.close();
    }
  });
  return cmd;
}

async function publishMetrics(
  result: VerifyResult,
  file: string | undefined,
  gateway: string | undefined,
): Promise<void> {
  if (!file && !gateway) return;
  // prom-client is loaded only when metrics are asked for: it is most of start-up time.
  const { buildVerifyMetrics, pushToGateway, writeTextfile } =
    await import("../../output/metrics.js");
  const registry = buildVerifyMetrics({
    runId: result.runId,
    scope: result.scope,
    finishedAt: new Date(result.finishedAt),
    durationSeconds: result.durationMs / 1000,
    clean: result.clean,
    counts: result.counts,
  });
  if (file) await writeTextfile(registry, file);
  if (gateway) {
    try {
      await pushToGateway(registry, gateway);
    } catch (err) {
      // The verify itself completed: a metrics outage is a warning, not a failed check.
      process.stderr.write(
        `jobs-migrate: warning: ${err instanceof Error ? err.message : String(err)}\n`,
      );
    }
  }
}
