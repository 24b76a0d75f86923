/** --metrics-file and --pushgateway: backfill, verify, cleanup and restore report to Prometheus. */
import { Option, type Command } from "commander";
import { z } from "zod";

export function addMetricsOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--metrics-file <file>",
        "write Prometheus metrics here during and after the run (node_exporter textfile collector, *.prom)",
      ),
    )
    .addOption(
      new Option(
        "--pushgateway <url>",
        "push Prometheus metrics to this Pushgateway during and after the run",
      ),
    );
}

export const metricsShape = {
  metricsFile: z.string().min(1).optional(),
  pushgateway: z
    .string()
    .optional()
    .refine(
      (u) => u === undefined || /^https?:\/\/[^\s]+$/.test(u),
      "--pushgateway must be an http:// or https:// URL",
    ),
};
