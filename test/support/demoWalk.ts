/**
 * What the demo must show, step by step, whichever build of the CLI ran it: each step's
 * exit status as the demo explains it, the lines that prove it, and no secret anywhere.
 */
import { expect } from "vitest";
import type { DemoStep } from "../../tools/demo.js";

export function expectTheDemoWalk(steps: DemoStep[], jobs = 20_000): void {
  const n = jobs.toLocaleString("en-US");
  const at = (i: number) =>
    `${steps[i]!.args.slice(0, 1).join(" ")} ${steps[i]!.args.slice(3).join(" ")}`;
  expect(steps.map((s, i) => [at(i), s.status])).toEqual([
    ["backfill --batch-size 1000", 1],
    ["verify ", 1],
    ["verify --repair", 1],
    ["verify ", 1],
    ["accept --from-last verify --reason 3 legacy jobs without a workspace: they stay old-only", 0],
    ["verify ", 0],
    ["flag ", 0],
    ["cleanup ", 0],
    ["cleanup --execute", 5],
    ["cleanup --execute --archive archive.jsonl", 0],
    ["flag --count --require done", 0],
    ["restore --from archive.jsonl", 0],
  ]);
  const out = steps.map((s) => s.stdout);
  expect(out[1]).toMatch(/NOT CLEAN/);
  expect(out[1]).toMatch(/confirmed\s+1\s+\(field_differs 1\)/);
  expect(out[1]).toContain('result: old {"ok":true,"token":"[REDACTED]"}');
  expect(out[2]).toMatch(/repaired\s+1\b/);
  expect(out[3]).toMatch(/CLEAN \(no divergence\)/);
  expect(out[4]).toMatch(/accepted 3 leftover\(s\)/);
  expect(out[5]).toMatch(/all accepted/);
  // Reads not flipped yet: the next step is the flip, and it is safe (its gate is met).
  expect(out[6]).toMatch(/next: flip reads[^\n]*\n\s+safe/);
  expect(out[9]).toMatch(new RegExp(`deleted\\s+${n}\\b`));
  expect(out[10]).toMatch(/phase\s+done/);
  expect(out[10]).toMatch(/next: nothing left[^\n]*\n\s+safe/);
  expect(out[10]).toMatch(/gate done: met/);
  expect(out[11]).toMatch(new RegExp(`restored\\s+${n}\\b`));
  for (const text of out) expect(text).not.toContain("xoxb-demo-secret");
}
