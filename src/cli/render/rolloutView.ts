import type { RolloutState } from "../../migration/rollout/rollout.js";
import type { RunStatus } from "../../migration/shared/runStatus.js";
import { formatCount, formatDuration, styleFor } from "./style.js";

function runLine(name: string, r: RunStatus, estimate: number): string[] {
  const lines: string[] = [];
  const l = r.last;
  if (l) {
    const verdict = l.clean === undefined ? "" : l.clean ? " clean" : " NOT clean";
    const took = l.durationMs !== undefined ? ` in ${formatDuration(l.durationMs / 1000)}` : "";
    const counts = Object.entries(l.counts ?? {})
      .filter(([k]) => !k.includes("."))
      .map(([k, v]) => `${k} ${formatCount(v)}`)
      .join(", ");
    lines.push(
      `  ${name.padEnd(9)} last: ${l.finishedAt}${took}${verdict}${l.executed === false ? " (dry run)" : ""}; ${counts}`,
    );
  } else lines.push(`  ${name.padEnd(9)} last: never completed`);
  const c = r.current;
  if (c) {
    const pct =
      estimate > 0 ? ` (~${Math.min(100, Math.floor((100 * c.processed) / estimate))}%)` : "";
    const secs = (Date.parse(c.updatedAt) - Date.parse(c.startedAt)) / 1000;
    const rate = secs > 0 ? `, ~${formatCount(c.processed / secs)} keys/s` : "";
    const eta =
      secs > 0 && estimate > c.processed
        ? `, ETA ~${formatDuration(((estimate - c.processed) * secs) / c.processed)}`
        : "";
    const who = c.holder ? ` by pid ${c.holder.pid} on ${c.holder.host}` : "";
    const state =
      c.state === "running"
        ? "RUNNING"
        : c.state === "stale"
          ? "STALE (its process died; run it again to resume)"
          : `${c.status} (run it again to resume)`;
    lines.push(
      `            now: ${state} run ${c.runId}${who}, ${formatCount(c.processed)} keys${pct}${rate}${eta}, updated ${c.updatedAt}`,
    );
    const on = c.topology.shards
      .map((s) => (s.key === "standalone" ? `${s.address}` : `${s.key} on ${s.address}`))
      .join(", ");
    const changes = c.topologyChanges;
    const verdict =
      changes === undefined ? " (cannot tell now)" : changes.length === 0 ? " (unchanged)" : "";
    lines.push(`            checkpoint made on: ${on}${verdict}`);
    for (const ch of changes ?? []) lines.push(`            changed since: ${ch}`);
  }
  return lines;
}

/** What the last full verify left (unmigratable and foreign keys) and what is accepted. */
function leftoverLines(s: RolloutState): string[] {
  const l = s.leftovers;
  const lines: string[] = [];
  if (l.fromRun !== undefined)
    lines.push(
      `leftovers (verify run ${l.fromRun}): ${formatCount(l.unmigratable)} unmigratable old keys (${formatCount(l.unmigratableUnaccepted)} not accepted), ${formatCount(l.foreign)} foreign new keys`,
    );
  if (l.accepted)
    lines.push(
      `  accepted ${formatCount(l.accepted.count)} by ${l.accepted.who} at ${l.accepted.at}: "${l.accepted.reason}" (${l.accepted.digest})`,
    );
  return lines;
}

/** One screen: flag, phase, runs, key counts, leftovers, next step. */
export function renderRollout(s: RolloutState, where: string, stream: NodeJS.WriteStream): string {
  const style = styleFor(stream);
  const flag = [`environment AI_JOBS_NEW_SCHEMA=${s.flag.env ?? "unset"}`];
  if (s.flag.flagKey) flag.push(`Redis ${s.flag.flagKey}=${s.flag.redis ?? "unset"}`);
  const est = s.keys.exact ? "" : " (estimated)";
  const lines = [
    `rollout of ${where}`,
    `  flag      ${flag.join(", ")}${s.flag.disagree ? style.red("  WARNING: they disagree") : ""}`,
    `  phase     ${style.bold(s.phase)}`,
    `  keys${est}: old ${formatCount(s.keys.old)}, new ${formatCount(s.keys.new)}, partial old ${formatCount(s.keys.partialOld)}`,
    "runs",
    ...runLine("backfill", s.runs.backfill, s.keys.old),
    ...runLine("verify", s.runs.verify, s.keys.old + s.keys.new),
    ...runLine("cleanup", s.runs.cleanup, s.keys.old),
    ...runLine("reverse", s.runs.reverse, s.keys.new),
    ...leftoverLines(s),
    `next: ${s.next.step}`,
    `  ${s.next.safe ? style.green("safe") : style.yellow("not safe yet")}${s.next.reasons.map((r) => `\n  - ${r}`).join("")}`,
  ];
  if (s.audit.length) {
    lines.push("flag changes (newest first)");
    for (const a of s.audit)
      lines.push(`  ${a.at} ${a.who}: ${a.previous ?? "unset"} -> ${a.value}  "${a.reason}"`);
  }
  return `${lines.join("\n")}\n`;
}
