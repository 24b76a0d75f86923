import { Chalk, type ChalkInstance } from "chalk";

/** Colour only on a terminal, never with NO_COLOR (https://no-color.org). */
export function styleFor(stream: NodeJS.WriteStream): ChalkInstance {
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "";
  return new Chalk({ level: stream.isTTY && !noColor ? 1 : 0 });
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * What partial old hashes among a run's unmigratable keys mean (a line to print), or
 * undefined when there are none.
 */
export function partialHashHint(counts: Record<string, number>): string | undefined {
  const n = counts["unmigratable.partial_hash"] ?? 0;
  if (n === 0) return undefined;
  return `${formatCount(n)} partial old hash(es) (a status, no workspace_id nor job_id): left by update_status writing an old key that was gone (expired or deleted), so the application still writes old keys; never copied, never deleted`;
}

/** What the topology did during a run (failovers, moved slots) and what was rescanned. */
export function topologyLines(notes: readonly string[] | undefined): string[] {
  if (!notes?.length) return [];
  const shown = notes.slice(0, 12);
  const more = notes.length - shown.length;
  return [
    "Topology changes during the run (every key they could hide was rescanned):",
    ...shown.map((n) => `  ${n}`),
    ...(more > 0 ? [`  … and ${more} more`] : []),
  ];
}
