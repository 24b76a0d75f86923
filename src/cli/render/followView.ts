import { jsonLogLine, logFormat } from "../logFormat.js";
import { scrub } from "../secrets.js";
import type { FollowSnapshot } from "../../migration/verify/follow/follow.js";
import { COUNT_ORDER, describeDivergence } from "./verifySummary.js";
import type { DivergenceRecord } from "../../migration/verify/divergenceReport.js";
import { formatCount, formatDuration, styleFor } from "./style.js";

const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const seconds = (ms: number | undefined) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(2)}s`);

function byKind(c: Record<string, number>, group: string): string {
  const kinds = Object.entries(c)
    .filter(([k]) => k.startsWith(`${group}.`))
    .map(([k, n]) => `${k.slice(group.length + 1)} ${formatCount(n)}`);
  return kinds.length ? ` (${kinds.join(", ")})` : "";
}

/** One line of live figures. */
export function followLine(s: FollowSnapshot, touchedPerSecond: number): string {
  const c = s.counts;
  const gaps = s.gapsOpen.length ? `, catching up: ${s.gapsOpen.join(", ")}` : "";
  const sampling = s.admitting < 1 ? `, admitting ${(s.admitting * 100).toPrecision(3)}%` : "";
  return (
    `${formatCount(Math.round(touchedPerSecond))} touched pairs/s, checked ${formatCount(c.checked ?? 0)}, ` +
    `equal ${formatCount(c.equal ?? 0)}, transient ${formatCount(c.transient ?? 0)}, ` +
    `confirmed ${formatCount(c.confirmed ?? 0)}${byKind(c, "confirmed")}, ` +
    `lag p50 ${seconds(s.lag.quantile(0.5))} p99 ${seconds(s.lag.quantile(0.99))}, ` +
    `queue ${formatCount(s.pending)}${sampling}${gaps}`
  );
}

/**
 * Live figures on stderr: a status line rewritten every second on a terminal, a
 * timestamped line every `intervalSeconds` otherwise; log lines always timestamped.
 */
export function createFollowView(stream: NodeJS.WriteStream, intervalSeconds: number) {
  // --log-format json: the same lines as JSON objects, and never a status line.
  const json = logFormat() === "json";
  const tty = Boolean(stream.isTTY) && !process.env.NO_COLOR && !json;
  let lastLineMs = 0;
  let lastTouched = 0;
  let lastAtMs = Date.now();
  let rate = 0;
  let status = false;
  const clear = () => {
    if (status) stream.write("\r\x1b[2K");
    status = false;
  };
  return {
    log(level: "info" | "warn", message: string): void {
      clear();
      stream.write(
        json
          ? jsonLogLine(level, { subcommand: "verify --follow", message })
          : `${stamp()} verify --follow: ${level === "warn" ? "warning: " : ""}${scrub(message)}\n`,
      );
    },
    update(s: FollowSnapshot): void {
      const now = Date.now();
      if (now - lastAtMs >= 1000) {
        const touched = (s.counts.touched ?? 0) + (s.counts.caughtUp ?? 0);
        rate = ((touched - lastTouched) * 1000) / (now - lastAtMs);
        lastTouched = touched;
        lastAtMs = now;
      } else if (tty) return;
      if (tty) {
        const line = followLine(s, rate);
        stream.write(`\r\x1b[2K${line.slice(0, (stream.columns || 200) - 1)}`);
        status = true;
      } else if (now - lastLineMs >= intervalSeconds * 1000) {
        lastLineMs = now;
        stream.write(
          json
            ? jsonLogLine("info", {
                subcommand: "verify --follow",
                event: "progress",
                touchedPerSecond: rate,
                counts: s.counts,
              })
            : `${stamp()} verify --follow: ${followLine(s, rate)}\n`,
        );
      }
    },
    stop: clear,
  };
}

// Counters a follow never has (orphans, scanned …) are absent, so not listed.
const ORDER = [
  "events",
  "touched",
  "caughtUp",
  ...COUNT_ORDER,
  "reconfirmed",
  "sampledOut",
  "dropped",
  "retried",
  "gaps",
  "sweeps",
];

/** The closing summary of a session (stdout). */
export function renderFollowSummary(
  r: FollowSnapshot & { stoppedBy: string; unchecked: number },
  verdict: string,
  where: string,
  topology: string,
  stream: NodeJS.WriteStream,
): string {
  const style = styleFor(stream);
  const c = r.counts;
  const took = formatDuration((Date.now() - r.startedAtMs) / 1000);
  const stopped = r.stoppedBy === "for" ? "--for elapsed" : "interrupted";
  const color = verdict.startsWith("CLEAN") ? style.green : style.red;
  const lines = [
    `verify --follow on ${where} [${topology}], ${took} (${stopped}): ${color(verdict)}`,
  ];
  for (const k of ORDER) {
    if (c[k] === undefined) continue;
    const kinds = k === "confirmed" || k === "transient" || k === "unmigratable";
    lines.push(
      `  ${k.padEnd(20)} ${formatCount(c[k]!).padStart(12)}${kinds ? `  ${byKind(c, k)}` : ""}`,
    );
  }
  lines.push(`  ${"uncheckedAtExit".padEnd(20)} ${formatCount(r.unchecked).padStart(12)}`);
  lines.push(
    `  lag write->check      p50 ${seconds(r.lag.quantile(0.5))}, p99 ${seconds(r.lag.quantile(0.99))}, max ${seconds(r.lag.count ? r.lag.maxMs : undefined)} over ${formatCount(r.lag.count)} pairs`,
  );
  const found = r.findings.flatMap((f) => (f.data ? [f.data as DivergenceRecord] : []));
  if (found.length) {
    lines.push(
      `Confirmed divergences (showing ${found.length} of ${formatCount(c.confirmed ?? 0)}; values redacted):`,
    );
    for (const d of found) lines.push(describeDivergence(d));
  }
  return `${lines.join("\n")}\n`;
}
