import cliProgress from "cli-progress";
import type { RunEvent, RunEventListener } from "../../engine/events.js";
import { jsonLogLine, type LogFormat } from "../logFormat.js";
import { scrub } from "../secrets.js";
import { formatCount, formatDuration, styleFor } from "./style.js";

export interface ProgressViewOptions {
  name: string;
  stream: NodeJS.WriteStream;
  /** Seconds between plain log lines when not on a terminal (cron). */
  intervalSeconds: number;
  /** Counters worth showing next to the figures, in order. */
  highlight: readonly string[];
  /** json: one JSON object per line (logs and progress), never a bar. */
  format?: LogFormat | undefined;
}

function stamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

function extras(counts: Record<string, number>, keys: readonly string[]): string {
  return keys
    .filter((k) => (counts[k] ?? 0) > 0)
    .map((k) => `${k} ${formatCount(counts[k] ?? 0)}`)
    .join(", ");
}

/**
 * Render run events: a progress bar with rate and ETA on a terminal; under cron, a
 * plain line every few seconds (no escape codes, no bar). Logs always go out as lines.
 */
export function createProgressView(opts: ProgressViewOptions): {
  listener: RunEventListener;
  stop(): void;
} {
  const { stream, name } = opts;
  const style = styleFor(stream);

  const line = (text: string): void => {
    stream.write(`${stamp()} ${name}: ${scrub(text)}\n`);
  };
  const describe = (e: ProgressEvent): string => {
    const total = e.estimatedTotal;
    const pct = total ? ` (${Math.min(100, Math.floor((100 * e.processed) / total))}%)` : "";
    const of = total ? `/${e.done ? "" : "~"}${formatCount(total)}` : "";
    const eta =
      e.etaSeconds !== undefined && !e.done ? `, ETA ${formatDuration(e.etaSeconds)}` : "";
    const x = extras(e.counts, opts.highlight);
    return `${formatCount(e.processed)}${of} keys${pct}, ${formatCount(e.rate)} keys/s${eta}${e.paused ? `, PAUSED: ${e.paused}` : e.throttled ? ", throttled (--rate)" : ""}${x ? `, ${x}` : ""}`;
  };

  if (opts.format === "json") {
    // --log-format json: the same lines, each one JSON object.
    const subcommand = name;
    return lineView(
      opts.intervalSeconds,
      (e) => stream.write(jsonLogLine(e.level, { subcommand, message: e.message })),
      (e) =>
        stream.write(jsonLogLine("info", { subcommand, ...e, type: undefined, event: "progress" })),
    );
  }
  if (!stream.isTTY)
    return lineView(
      opts.intervalSeconds,
      (e) => line(e.level === "warn" ? `warning: ${e.message}` : e.message),
      (e) => line(describe(e)),
    );

  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${style.cyan(name)} [{bar}] {percentage}% | {value}/{total} keys | {rate} keys/s | ETA {etaText} | {extra}`,
      hideCursor: true,
      barsize: 24,
      etaBuffer: 50,
      fps: 5,
      formatValue: (v, _o, type) =>
        type === "value" || type === "total" ? formatCount(v) : String(v),
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  return {
    listener: (e) => {
      if (e.type === "log") {
        const text = `${name}: ${e.level === "warn" ? style.yellow(`warning: ${e.message}`) : e.message}\n`;
        // Clear the bar's line first; the bar redraws itself on its next update.
        stream.write(started ? `\r\x1b[2K${text}` : text);
        return;
      }
      const payload = {
        rate: formatCount(e.rate),
        etaText: e.done ? "0s" : formatDuration(e.etaSeconds ?? Number.NaN),
        extra: `${e.throttled ? style.yellow("throttled ") : ""}${extras(e.counts, opts.highlight)}`,
      };
      const total = Math.max(1, e.estimatedTotal ?? e.processed);
      if (!started) {
        bar.start(total, e.processed, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(e.processed, payload);
      }
    },
    stop: () => {
      if (started && !stopped) bar.stop();
      stopped = true;
    },
  };
}

type ProgressEvent = Extract<RunEvent, { type: "progress" }>;

/**
 * Lines, not a bar (cron, log shippers): every log event, and a progress event every
 * intervalSeconds, the last one too when the run stops.
 */
function lineView(
  intervalSeconds: number,
  log: (e: Extract<RunEvent, { type: "log" }>) => void,
  progress: (e: ProgressEvent) => void,
): { listener: RunEventListener; stop(): void } {
  let last: ProgressEvent | undefined;
  let lastPrinted: ProgressEvent | undefined;
  let lastLine = 0;
  let stopped = false;
  const print = (e: ProgressEvent) => {
    lastPrinted = e;
    progress(e);
  };
  return {
    listener: (e) => {
      if (e.type === "log") return log(e);
      last = e;
      if (Date.now() - lastLine >= intervalSeconds * 1000) {
        lastLine = Date.now();
        print(e);
      }
    },
    stop: () => {
      if (last && last !== lastPrinted && !stopped) print(last);
      stopped = true;
    },
  };
}
