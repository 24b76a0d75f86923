import { unaccepted } from "../../migration/shared/baseline.js";
import type { VerifyResult } from "../../migration/verify/verify.js";
import type { DivergenceRecord } from "../../migration/verify/divergenceReport.js";
import { formatCount, formatDuration, partialHashHint, styleFor, topologyLines } from "./style.js";

/** The order counters are listed in (a counter at 0 or absent is not). */
export const COUNT_ORDER = [
  "checked",
  "equal",
  "transient",
  "confirmed",
  "orphans",
  "unmigratable",
  "unmigratableAccepted",
  "repaired",
  "repairPlanned",
  "repairFailed",
  "vanished",
  "outOfScope",
  "outOfSample",
  "newChecked",
  "newOnly",
  "newForeign",
  "foreignAccepted",
  "scanned",
  "rescanned",
];

/** The divergences kept as a sample, for output. */
export function divergencesOf(result: VerifyResult): DivergenceRecord[] {
  return result.findings.flatMap((f) => (f.data ? [f.data as DivergenceRecord] : []));
}

/** A divergence as the summaries list it: the pair, its kinds and fields, redacted values. */
export function describeDivergence(d: DivergenceRecord): string {
  const parts = [`${d.oldKey} -> ${d.newKey}`, d.kinds.join(",")];
  const f = d.fields;
  if (f?.differs.length) parts.push(`differs: ${f.differs.join(", ")}`);
  if (f?.missing.length) parts.push(`missing in new: ${f.missing.join(", ")}`);
  if (f?.extra.length) parts.push(`only in new: ${f.extra.join(", ")}`);
  if (d.oldTtlMs !== undefined) parts.push(`ttl old ${d.oldTtlMs}ms new ${d.newTtlMs}ms`);
  const lines = [`  ${parts.join("  ")}`];
  for (const [field, v] of Object.entries(d.values ?? {}))
    lines.push(`      ${field}: old ${v.old ?? "(none)"} | new ${v.new ?? "(none)"}`);
  return lines.join("\n");
}

/** Human summary of a verify: a table of counts by kind, then samples. */
export function renderVerifySummary(
  result: VerifyResult,
  where: string,
  topology: string,
  stream: NodeJS.WriteStream,
): string {
  const style = styleFor(stream);
  const c = result.counts;
  const open = unaccepted(c, "unmigratable");
  const verdict = !result.clean
    ? style.red("NOT CLEAN")
    : open > 0
      ? style.yellow(
          `CLEAN (no divergence), but ${formatCount(open)} unmigratable old key(s) not accepted were found`,
        )
      : (c.unmigratable ?? 0) > 0
        ? style.green(
            `CLEAN (its ${formatCount(c.unmigratable ?? 0)} unmigratable old key(s) are all accepted)`,
          )
        : style.green("CLEAN");
  const lines = [
    `verify completed (run ${result.runId}${result.resumed ? ", resumed" : ""}) on ${where} [${topology}], scope ${result.scope}, in ${formatDuration(result.durationMs / 1000)}: ${verdict}`,
  ];
  for (const k of COUNT_ORDER) {
    if (c[k] === undefined) continue;
    const byKind = Object.entries(c)
      .filter(([r]) => r.startsWith(`${k}.`))
      .map(([r, n]) => `${r.slice(k.length + 1)} ${formatCount(n)}`);
    lines.push(
      `  ${k.padEnd(14)} ${formatCount(c[k]!).padStart(12)}${byKind.length ? `   (${byKind.join(", ")})` : ""}`,
    );
  }
  const divergences = divergencesOf(result);
  if (divergences.length) {
    lines.push(
      `Confirmed divergences (showing ${divergences.length} of ${formatCount(c.confirmed ?? 0)}; values redacted):`,
    );
    for (const d of divergences) lines.push(describeDivergence(d));
  }
  const foreign = result.findings.filter((f) => f.reason.startsWith("foreign "));
  if (foreign.length) {
    lines.push(
      `Foreign keys under the new prefix, not job records (showing ${foreign.length} of ${formatCount(c.newForeign ?? 0)}; never repaired or deleted, not divergences):`,
    );
    for (const f of foreign)
      lines.push(
        `  ${f.key}  ${f.reason.slice("foreign ".length)}${f.accepted ? " (accepted)" : ""}`,
      );
  }
  const unmigratable = result.findings.filter(
    (f) => !f.data && f.reason !== "repair_failed" && !f.reason.startsWith("foreign "),
  );
  if (unmigratable.length) {
    lines.push(
      `Unmigratable old keys (showing ${unmigratable.length} of ${formatCount(c.unmigratable ?? 0)}):`,
    );
    for (const f of unmigratable)
      lines.push(`  ${f.key}  ${f.accepted ? `${f.reason} (accepted)` : style.yellow(f.reason)}`);
  }
  lines.push(...topologyLines(result.topologyChanges));
  const hint = partialHashHint(c);
  if (hint) lines.push(style.yellow(hint));
  return `${lines.join("\n")}\n`;
}
