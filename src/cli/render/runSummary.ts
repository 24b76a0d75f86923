import type { RunResult } from "../../engine/runScan.js";
import { formatCount, formatDuration, partialHashHint, styleFor, topologyLines } from "./style.js";

/** Human summary of a finished run, for stdout. */
export function renderSummary(
  result: RunResult & { clean: boolean },
  where: string,
  details: string,
  stream: NodeJS.WriteStream,
): string {
  const style = styleFor(stream);
  const head =
    `${result.name} ${result.clean ? style.green("completed") : style.yellow("completed with problems")}` +
    ` (run ${result.runId}${result.resumed ? ", resumed" : ""}) on ${where} [${details}] in ${formatDuration(result.durationMs / 1000)}`;
  const rows = Object.entries(result.counts)
    .filter(([k]) => !k.includes("."))
    .map(([k, v]) => {
      const reasons = Object.entries(result.counts)
        .filter(([r]) => r.startsWith(`${k}.`))
        .map(([r, n]) => `${r.slice(k.length + 1)} ${formatCount(n)}`);
      return `  ${k.padEnd(18)} ${formatCount(v).padStart(12)}${reasons.length ? `   (${reasons.join(", ")})` : ""}`;
    });
  const lines = [head, ...rows];
  const total = result.findings.length;
  if (total > 0) {
    const problems = Object.entries(result.counts)
      .filter(([k]) => ["unmigratable", "unstable", "vanishedAfterCopy", "oversized"].includes(k))
      .reduce((a, [, n]) => a + n, 0);
    lines.push(
      `Keys needing attention (showing ${total} of ${formatCount(Math.max(problems, total))}):`,
    );
    for (const f of result.findings)
      lines.push(`  ${f.key}  ${style.yellow(f.reason)}${f.detail ? `  ${f.detail}` : ""}`);
  }
  lines.push(...topologyLines(result.topologyChanges));
  const hint = partialHashHint(result.counts);
  if (hint) lines.push(style.yellow(hint));
  return `${lines.join("\n")}\n`;
}
