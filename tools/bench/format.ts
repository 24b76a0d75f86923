import type { TargetCheck } from "./report.js";

/** 1,234.5 style, "-" for a missing figure. */
export const num = (v: number | null | undefined, digits = 0) =>
  v == null
    ? "-"
    : v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A column: its header, how a row shows in it, and "left" for text (numbers go right). */
export type Column<T> = [string, (row: T) => string, "left"?];

/** Columns as wide as their widest cell, the first left-aligned and the others right. */
export function printTable<T>(cols: Column<T>[], items: T[]): void {
  const head = cols.map(([h]) => h);
  const rows = items.map((m) => cols.map(([, f]) => f(m)));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const left = (i: number) => i === 0 || cols[i]![2] === "left";
  const line = (cells: string[]) =>
    cells.map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(line(head));
  for (const row of rows) console.log(line(row));
}

export function verdict(t: TargetCheck | undefined): string {
  if (!t) return "";
  if (t.pass === null) return `   (target ${t.goal}) NOT MEASURED: tool did not run`;
  return `   (target ${t.goal}) ${t.pass ? "PASS" : "FAIL  <<<<<<<<"}`;
}
