import { describe, expect, it } from "vitest";
import { oldKeyOf } from "../../src/migration/shared/keySchema.js";
import { diffPair, ttlsDiffer, type KeyState } from "../../src/migration/shared/pairDiff.js";
import { recheck } from "../../src/migration/verify/recheck.js";
import { inSample } from "../../src/migration/verify/sampling.js";

const b = (s: string | number[]) => (typeof s === "string" ? Buffer.from(s) : Buffer.from(s));
const hash = (fields: Record<string, Buffer | string>, pttl = -1): KeyState => ({
  type: "hash",
  pttl,
  fields: new Map(Object.entries(fields).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : b(v)])),
});

describe("diffPair", () => {
  const o = hash({ job_id: "j1", status: "done", params: b([0xff, 0x01]) }, 60_000);
  it("finds nothing when the pair is byte-identical, whatever the field order", () => {
    const n = hash({ params: b([0xff, 0x01]), status: "done", job_id: "j1" }, 59_000);
    expect(diffPair(b("o"), b("n"), o, n, 5000)).toBeUndefined();
  });
  it("names differing, missing and extra fields, byte for byte", () => {
    const n = hash({ job_id: "j1", params: b([0xff, 0x02]), extra: "x" }, 60_000);
    const d = diffPair(b("o"), b("n"), o, n, 5000)!;
    expect(d.kinds).toEqual(["field_differs", "field_missing", "field_extra"]);
    expect([d.differs, d.missing, d.extra]).toEqual([["params"], ["status"], ["extra"]]);
  });
  it("reports a missing new key and a new key of another type as such, alone", () => {
    expect(
      diffPair(b("o"), b("n"), o, { type: "none", pttl: -2, fields: new Map() }, 0)!.kinds,
    ).toEqual(["new_missing"]);
    expect(
      diffPair(b("o"), b("n"), o, { type: "string", pttl: -1, fields: new Map() }, 0)!.kinds,
    ).toEqual(["new_wrong_type"]);
  });
  it("reports TTLs apart beyond the tolerance, and a TTL on one side only", () => {
    expect(
      diffPair(
        b("o"),
        b("n"),
        o,
        hash({ job_id: "j1", status: "done", params: b([0xff, 0x01]) }, 40_000),
        5000,
      )!.kinds,
    ).toEqual(["ttl_differs"]);
    expect(ttlsDiffer(-1, 10_000, 1_000_000)).toBe(true);
    expect(ttlsDiffer(-1, -1, 0)).toBe(false);
    expect(ttlsDiffer(10_000, 12_000, 5000)).toBe(false);
  });
});

describe("inSample", () => {
  it("keeps about the fraction asked, deterministically, and everything at 1", () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => b(`ai:jobs:job-${i}`));
    const kept = keys.filter((k) => inSample(k, 0.1)).length;
    expect(kept).toBeGreaterThan(1700);
    expect(kept).toBeLessThan(2300);
    expect(keys.filter((k) => inSample(k, 0.1)).length).toBe(kept);
    expect(keys.every((k) => inSample(k, 1))).toBe(true);
  });
  it("spreads the sample over the keyspace rather than taking the first keys", () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => b(`ai:jobs:job-${i}`));
    const firstHalf = keys.slice(0, 5000).filter((k) => inSample(k, 0.2)).length;
    const secondHalf = keys.slice(5000).filter((k) => inSample(k, 0.2)).length;
    expect(Math.abs(firstHalf - secondHalf)).toBeLessThan(200);
  });
});

describe("oldKeyOf", () => {
  const schema = { oldPrefix: "ai:jobs:", newPrefix: "ai:job:" };
  it("maps a new job key back to its old key and workspace", () => {
    const r = oldKeyOf(schema, b("ai:job:ws-1:job:with:colons"))!;
    expect(r.oldKey.toString()).toBe("ai:jobs:job:with:colons");
    expect(r.workspaceId.toString()).toBe("ws-1");
  });
  it("leaves keys of another shape alone (ai:job:config, a bare workspace)", () => {
    expect(oldKeyOf(schema, b("ai:job:config"))).toBeUndefined();
    expect(oldKeyOf(schema, b("ai:job:ws-1:"))).toBeUndefined();
    expect(oldKeyOf(schema, b("ai:job::x"))).toBeUndefined();
  });
});

describe("recheck", () => {
  it("confirms what stays suspect every round and calls the rest transient", async () => {
    let round = 0;
    const seen: number[][] = [];
    const r = await recheck([1, 2, 3, 4], { rounds: 3, delayMs: 0 }, async (xs) => {
      round++;
      seen.push(xs);
      // 2 settles in round 1, 4 in round 2; 1 and 3 never do.
      return xs.map((x) => ((x === 2 && round >= 1) || (x === 4 && round >= 2) ? undefined : x));
    });
    expect(r.confirmed).toEqual([1, 3]);
    expect(r.transient.sort()).toEqual([2, 4]);
    expect(seen).toEqual([
      [1, 2, 3, 4],
      [1, 3, 4],
      [1, 3],
    ]);
  });
  it("with zero rounds, confirms every suspect without re-reading", async () => {
    const r = await recheck([1, 2], { rounds: 0, delayMs: 0 }, async () => {
      throw new Error("must not be called");
    });
    expect(r).toEqual({ confirmed: [1, 2], transient: [] });
  });
});
