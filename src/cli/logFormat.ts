/**
 * How the tool writes its lines on stderr: text (`2026-12-03T10:00:00Z backfill: …`,
 * `jobs-migrate: warning: …`) or, with `--log-format json` (env JOBS_MIGRATE_LOG_FORMAT),
 * one JSON object per line for log shippers, with the same content. Either way every
 * known secret is replaced by *** (the JSON is built from scrubbed strings).
 */
import { scrub } from "./secrets.js";

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

let current: LogFormat = "text";

export function setLogFormat(format: LogFormat): void {
  current = format;
}

export function logFormat(): LogFormat {
  return current;
}

/**
 * The format asked for, read before the options are parsed (an error in parsing them is
 * logged in that format too): the last --log-format on the command line, else the
 * environment; anything unknown is left to option parsing to refuse.
 */
export function logFormatOf(argv: readonly string[], env: string | undefined): LogFormat {
  let asked = env;
  argv.forEach((a, i) => {
    if (a === "--log-format") asked = argv[i + 1];
    else if (a.startsWith("--log-format=")) asked = a.slice("--log-format=".length);
  });
  return asked === "json" ? "json" : "text";
}

/** One JSON log line: time, level, then the fields (strings scrubbed). */
export function jsonLogLine(level: string, fields: Record<string, unknown>): string {
  const clean = JSON.parse(JSON.stringify(fields), (_k, v: unknown) =>
    typeof v === "string" ? scrub(v) : v,
  ) as Record<string, unknown>;
  return `${JSON.stringify({ time: new Date().toISOString(), level, ...clean })}\n`;
}

/** A warning on stderr (a metrics outage, a deprecated option): one line, either format. */
export function warn(message: string): void {
  process.stderr.write(
    current === "json"
      ? jsonLogLine("warn", { message })
      : `jobs-migrate: warning: ${scrub(message)}\n`,
  );
}
