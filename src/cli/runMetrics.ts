import type { Registry } from "prom-client";
import type { RunMetrics } from "../output/runMetrics.js";
import { exitCodeFor } from "./exit.js";
import { warn } from "./logFormat.js";

/**
 * The run's Prometheus reporting, when --metrics-file or --pushgateway asks for it: the
 * textfile path is checked before any work (exit 2 or 6), and prom-client is loaded only
 * then (it is a good part of start-up time).
 */
export async function openRunMetrics(
  opts: { metricsFile?: string | undefined; pushgateway?: string | undefined },
  subcommand: string,
  scope: string,
  intervalSeconds = 10,
): Promise<RunMetrics | undefined> {
  if (!opts.metricsFile && !opts.pushgateway) return undefined;
  if (opts.metricsFile)
    await (await import("../output/metrics.js")).checkTextfilePath(opts.metricsFile);
  const { RunMetrics } = await import("../output/runMetrics.js");
  return new RunMetrics({
    subcommand,
    scope,
    file: opts.metricsFile,
    gateway: opts.pushgateway,
    intervalMs: intervalSeconds * 1000,
    // A metrics outage is a warning: the run itself goes on, and its exit status stands.
    warn,
  });
}

/** The run ended with this status (and these counts, when it got to a result). */
export async function endRunMetrics(
  metrics: RunMetrics | undefined,
  exitCode: number,
  counts?: Record<string, number>,
  extra?: Registry,
): Promise<void> {
  if (!metrics) return;
  const durationSeconds = (Date.now() - metrics.startedMs) / 1000;
  await metrics.end({ exitCode, counts, durationSeconds, finishedAt: new Date() }, extra);
}

/** A run that threw: its metrics say how it ended (never hiding the error itself). */
export async function failedRunMetrics(
  metrics: RunMetrics | undefined,
  err: unknown,
): Promise<void> {
  await endRunMetrics(metrics, exitCodeFor(err)).catch(() => undefined);
}
