import { ExitCode } from "../errors.js";
import { unaccepted } from "../migration/shared/baseline.js";
import { follow, type FollowSnapshot } from "../migration/verify/follow/follow.js";
import { scopeOf } from "../migration/verify/verify.js";
import type { FollowMetrics } from "../output/followMetrics.js";
import { ReportWriter } from "../output/reportWriter.js";
import type { FollowCliSettings } from "./followOptions.js";
import { writeJsonResult } from "./render/jsonResult.js";
import { createFollowView, renderFollowSummary } from "./render/followView.js";
import { openTarget, schemaOf } from "./runContext.js";
import { stopOnSignals } from "./signals.js";
import type { VerifyCliOptions } from "./options/verify.js";

/** The verdict of a session and its exit status (130 after a signal, whatever it found). */
function verdictOf(r: FollowSnapshot & { unchecked: number }): { verdict: string; ok: boolean } {
  const c = r.counts;
  const confirmed = c.confirmed ?? 0;
  const open = unaccepted(c, "unmigratable");
  if (confirmed > 0 || open > 0)
    return {
      verdict: `NOT CLEAN (${confirmed} confirmed divergence(s), ${open} unmigratable key(s) not accepted)`,
      ok: false,
    };
  const unproven: string[] = [];
  if (c.dropped) unproven.push(`${c.dropped} touched pair(s) dropped (queue full)`);
  if (r.unchecked) unproven.push(`${r.unchecked} touched pair(s) not yet checked`);
  if (r.gapsOpen.length) unproven.push(`events missed on ${r.gapsOpen.join(", ")} not caught up`);
  if (unproven.length) return { verdict: `NOT PROVEN: ${unproven.join("; ")}`, ok: false };
  const skipped = (c.sampledOut ?? 0) + (c.outOfSample ?? 0);
  const over = `${c.checked ?? 0} checked pair(s)`;
  return {
    verdict: skipped
      ? `CLEAN over ${over} (${skipped} touched pair(s) sampled out)`
      : `CLEAN over ${over}`,
    ok: true,
  };
}

/** `verify --follow`: run a follow session until a signal or --for, then summarize. */
export async function runFollow(
  opts: VerifyCliOptions,
  v: VerifyCliOptions,
  f: FollowCliSettings,
): Promise<void> {
  const wantMetrics = v.metricsFile !== undefined || v.pushgateway !== undefined;
  if (v.metricsFile) await (await import("../output/metrics.js")).checkTextfilePath(v.metricsFile);
  const report = v.report ? await ReportWriter.open(v.report) : undefined;
  const view = createFollowView(process.stderr, opts.progressInterval);
  const stop = stopOnSignals((sig) =>
    view.log("warn", `${sig}: stopping; the session's summary follows`),
  );
  const scope = `follow:${scopeOf({ workspaces: v.workspace, sample: v.sample })}`;
  const metrics: FollowMetrics | undefined = wantMetrics
    ? new (await import("../output/followMetrics.js")).FollowMetrics(scope)
    : undefined;
  const publisher = wantMetrics
    ? new (await import("../output/metricsPublisher.js")).MetricsPublisher({
        file: v.metricsFile,
        gateway: v.pushgateway,
        job: "jobs_migrate_verify_follow",
        intervalMs: opts.progressInterval * 1000,
        warn: (message) => view.log("warn", message),
      })
    : undefined;
  let target;
  try {
    // A session lasts days: it reconnects without end, and gives up only when its checks
    // kept failing for --settle-timeout (exit 3).
    target = await openTarget(opts, Number.POSITIVE_INFINITY);
    const result = await follow(
      target,
      {
        schema: schemaOf(opts),
        ttlToleranceMs: v.ttlTolerance,
        workspaces: v.workspace,
        sampleFraction: v.sample ?? 1,
        recheckRounds: v.recheckRounds,
        recheckDelayMs: v.recheckDelay,
        repair: v.repair ? (v.dryRun ? "dry-run" : "yes") : "no",
        sink: report ? (r) => report.write(r) : undefined,
        plan: (line) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`),
        settleMs: f.settleMs,
        forMs: f.forMs,
        maxPending: f.maxPending,
        enableNotifications: f.enableNotifications,
        batchSize: opts.batchSize,
        statePrefix: opts.statePrefix,
        findingsCap: opts.listLimit,
        failAfterMs: opts.settleTimeout,
        signal: stop.signal,
        log: view.log,
        onLag: metrics ? (ms) => metrics.observeLag(ms) : undefined,
      },
      (s) => {
        view.update(s);
        if (metrics)
          publisher?.maybe((pub) => {
            metrics.update(s);
            return pub.send(metrics.registry, "replace");
          });
      },
    );
    view.stop();
    await report?.close();
    if (metrics && publisher) {
      await publisher.flushed();
      metrics.update(result);
      await publisher.send(metrics.registry, "replace");
    }
    const { verdict, ok } = verdictOf(result);
    const exitCode =
      result.stoppedBy === "signal"
        ? ExitCode.Interrupted
        : ok
          ? ExitCode.Ok
          : ExitCode.ProblemsFound;
    if (opts.json) {
      writeJsonResult({
        subcommand: "verify",
        mode: "follow",
        redis: target.where,
        topology: target.kind,
        exitCode,
        scope,
        verdict,
        clean: ok,
        stoppedBy: result.stoppedBy,
        counts: result.counts,
        uncheckedAtExit: result.unchecked,
        gapsOpen: result.gapsOpen,
        lagMs: {
          p50: result.lag.quantile(0.5) ?? null,
          p99: result.lag.quantile(0.99) ?? null,
          max: result.lag.count ? result.lag.maxMs : null,
          pairs: result.lag.count,
        },
        divergences: result.findings.flatMap((x) => (x.data ? [x.data] : [])),
        startedAt: new Date(result.startedAtMs).toISOString(),
        finishedAt: new Date().toISOString(),
        durationMs: Date.now() - result.startedAtMs,
      });
    } else {
      process.stdout.write(
        renderFollowSummary(result, verdict, target.where, target.kind, process.stdout),
      );
    }
    process.exitCode = exitCode;
  } finally {
    view.stop();
    stop.dispose();
    await report?.close().catch(() => undefined);
    await target?.close();
  }
}
