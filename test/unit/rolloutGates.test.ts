/**
 * flag's next step and its gates come from one function: for every phase, the next step
 * is called safe exactly when the gate it needs is met, whatever is wrong.
 */
import { describe, expect, it } from "vitest";
import {
  nextStep,
  unmetReasons,
  type Phase,
  type RolloutState,
} from "../../src/migration/rollout/rollout.js";

const NOW = new Date("2026-12-03T12:00:00Z");
const ago = (min: number) => new Date(NOW.getTime() - min * 60_000).toISOString();
const MAX_AGE = 24 * 3600_000;

function state(over: {
  phase: Phase;
  unaccepted?: number;
  verifyClean?: boolean;
  running?: boolean;
  partialOld?: number;
  flagOn?: boolean;
}): Omit<RolloutState, "next"> {
  const last = (finishedAt: string, counts: Record<string, number> = {}, clean = true) => ({
    runId: "r1",
    startedAt: finishedAt,
    finishedAt,
    counts,
    clean,
  });
  return {
    flag: {
      env: undefined,
      redis: undefined,
      flagKey: undefined,
      disagree: false,
      on: over.flagOn,
    },
    phase: over.phase,
    runs: {
      backfill: { scope: "backfill", last: last(ago(60), { unmigratable: 3 }) },
      verify: {
        scope: "verify",
        last: last(ago(30), {}, over.verifyClean ?? true),
        ...(over.running
          ? {
              current: {
                runId: "r2",
                status: "running",
                startedAt: ago(1),
                updatedAt: ago(0),
                processed: 1,
                state: "running" as const,
                topology: [],
              },
            }
          : {}),
      },
      cleanup: { scope: "cleanup" },
      reverse: { scope: "backfill-reverse" },
    },
    keys: { old: 10, new: 10, partialOld: over.partialOld ?? 0, exact: true },
    leftovers: {
      fromRun: "r1",
      finishedAt: ago(30),
      unmigratable: 3,
      unmigratableUnaccepted: over.unaccepted ?? 0,
      foreign: 1,
      accepted: undefined,
    },
    audit: [],
  } as Omit<RolloutState, "next">;
}

const GATE_OF: Partial<Record<Phase, Parameters<typeof unmetReasons>[0]>> = {
  backfilled: "backfilled",
  verified: "ready-for-read-flip",
  "read flipped": "ready-for-cleanup",
};

describe("the next step and the gates", () => {
  const problems = [
    {},
    { unaccepted: 2 },
    { verifyClean: false },
    { running: true },
    { partialOld: 4 },
    { flagOn: true },
  ];
  for (const [phase, gate] of Object.entries(GATE_OF))
    for (const p of problems)
      it(`${phase} with ${JSON.stringify(p)}: safe exactly when ${gate} is met`, () => {
        const s = state({ phase: phase as Phase, ...p });
        const unmet = unmetReasons(gate!, s, MAX_AGE, NOW);
        const next = nextStep(s, MAX_AGE, NOW);
        expect(next.safe).toBe(unmet.length === 0);
        for (const r of unmet) expect(next.reasons).toContain(r);
      });

  it("accepted unmigratable keys block nothing; one not accepted blocks every gate up to the flip", () => {
    const ok = state({ phase: "verified" });
    for (const g of ["backfilled", "verified", "ready-for-read-flip"] as const)
      expect(unmetReasons(g, ok, MAX_AGE, NOW)).toEqual([]);
    const red = state({ phase: "verified", unaccepted: 1 });
    for (const g of ["backfilled", "verified", "ready-for-read-flip"] as const)
      expect(unmetReasons(g, red, MAX_AGE, NOW).join()).toMatch(
        /1 unmigratable old key\(s\) not accepted/,
      );
  });
});
