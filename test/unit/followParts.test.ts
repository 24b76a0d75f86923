import { describe, expect, it } from "vitest";
import { LagHistogram } from "../../src/migration/verify/follow/lagHistogram.js";
import { missingFlags } from "../../src/migration/verify/follow/notifyConfig.js";
import { TouchedPairs } from "../../src/migration/verify/follow/touchedPairs.js";

const key = (n: number) => Buffer.from(`ai:jobs:job-${n}`);

/** Touch pairs 0..n-1 once each; what touch() said, counted. */
function touchAll(t: TouchedPairs, n: number): Record<string, number> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const a = t.touch(key(i), i, "event");
    seen[a] = (seen[a] ?? 0) + 1;
  }
  return seen;
}

describe("TouchedPairs", () => {
  it("deduplicates a pair touched many times and hands it over once quiet for the settle time", () => {
    const t = new TouchedPairs(100, 1, 30_000);
    expect(t.touch(key(1), 0, "event")).toBe("queued");
    expect(t.touch(key(2), 100, "event")).toBe("queued");
    expect(t.touch(key(1), 500, "event")).toBe("retouched");
    expect(t.size).toBe(2);
    expect(t.takeSettled(1099, 1000, 10)).toEqual([]);
    expect(t.takeSettled(1100, 1000, 10).map((p) => p.oldKey.toString())).toEqual([
      "ai:jobs:job-2",
    ]);
    const [one] = t.takeSettled(1500, 1000, 10);
    expect(one).toMatchObject({ firstMs: 0, lastMs: 500 });
    expect(t.size).toBe(0);
  });

  it("a pair written without pause is still handed over maxWait after its first write", () => {
    const t = new TouchedPairs(100, 1, 5000);
    for (let ms = 0; ms <= 20_000; ms += 100) t.touch(key(1), ms, "event");
    expect(t.takeSettled(20_000, 1000, 10)).toHaveLength(1);
  });

  it("stays bounded when full: samples new pairs, drops what the sample still cannot hold, and every one is accounted for", () => {
    const t = new TouchedPairs(1000, 1, 30_000);
    const seen = touchAll(t, 100_000);
    expect(t.size).toBe(1000);
    expect(t.fraction).toBeLessThan(1);
    expect((seen.queued ?? 0) + (seen.sampledOut ?? 0) + (seen.dropped ?? 0)).toBe(100_000);
    expect(seen.sampledOut).toBeGreaterThan(50_000);
    // Drained below a quarter, the admission fraction climbs back.
    const before = t.fraction;
    t.takeSettled(1e9, 0, 900);
    expect(t.fraction).toBe(before * 2);
  });

  it("--sample's pairs are out of the sample, counted apart from overload sampling", () => {
    const t = new TouchedPairs(1000, 0.25, 30_000);
    const seen = touchAll(t, 2000);
    expect(seen.outOfSample).toBeGreaterThan(1300);
    expect(seen.sampledOut).toBeUndefined();
    expect(seen.queued).toBe(2000 - seen.outOfSample!);
  });
});

describe("LagHistogram", () => {
  it("quantiles to 10 ms in fixed memory", () => {
    const h = new LagHistogram();
    expect(h.quantile(0.5)).toBeUndefined();
    for (let ms = 1; ms <= 1000; ms++) h.observe(1000 + ms);
    expect(h.quantile(0.5)).toBe(1510);
    expect(h.quantile(0.99)).toBe(2000);
    h.observe(500_000);
    expect(h.quantile(1)).toBe(500_000);
  });
});

describe("missingFlags", () => {
  it("reads CONFIG GET's notify-keyspace-events, the alias A included", () => {
    expect(missingFlags("")).toBe("Khg");
    expect(missingFlags("xE")).toBe("Khg");
    expect(missingFlags("AK")).toBe("");
    expect(missingFlags("ghK")).toBe("");
    expect(missingFlags("hE")).toBe("Kg");
  });
});
