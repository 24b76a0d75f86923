/**
 * `npm run demo` is the README's front door: the whole migration against a throw-away
 * redis-server it seeds. Each step must end as the demo says it does.
 */
import { describe, expect, it } from "vitest";
import { runDemo } from "../../tools/demo.js";

describe("npm run demo", () => {
  it("walks backfill, verify, repair, flag, cleanup and restore with the exit statuses it explains, and prints no secret", async () => {
    const steps = await runDemo({ print: false });
    const at = (i: number) =>
      `${steps[i]!.args.slice(0, 1).join(" ")} ${steps[i]!.args.slice(3).join(" ")}`;
    expect(steps.map((s, i) => [at(i), s.status])).toEqual([
      ["backfill --batch-size 1000", 1],
      ["verify ", 1],
      ["verify --repair", 1],
      ["verify ", 1],
      ["flag ", 0],
      ["cleanup ", 1],
      ["cleanup --execute", 5],
      ["cleanup --execute --archive archive.jsonl", 1],
      ["flag --count", 0],
      ["restore --from archive.jsonl", 0],
    ]);
    const out = steps.map((s) => s.stdout);
    expect(out[1]).toMatch(/NOT CLEAN/);
    expect(out[1]).toMatch(/confirmed\s+1\s+\(field_differs 1\)/);
    expect(out[1]).toContain('result: old {"ok":true,"token":"[REDACTED]"}');
    expect(out[2]).toMatch(/repaired\s+1\b/);
    expect(out[3]).toMatch(/CLEAN \(no divergence\)/);
    expect(out[7]).toMatch(/deleted\s+20,000/);
    expect(out[8]).toMatch(/phase\s+cleaning up/);
    expect(out[8]).toMatch(/the last cleanup kept 3 old key\(s\) it cannot prove safe to delete/);
    expect(out[9]).toMatch(/restored\s+20,000/);
    for (const text of out) expect(text).not.toContain("xoxb-demo-secret");
  });
});
