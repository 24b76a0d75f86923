import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RecreationWatch } from "../../src/migration/cleanup/recreationWatch.js";
import type { RedisTarget } from "../../src/redis/target.js";

/** A one-node target whose countExisting records each call and finds `existing`. */
function fakeTarget(existing: Set<string> = new Set()) {
  const calls: { at: number; keys: string[] }[] = [];
  const node = {
    countExisting: async (...keys: Buffer[]) => {
      calls.push({ at: Date.now(), keys: keys.map(String) });
      const i = keys.findIndex((k) => existing.has(String(k)));
      return i + 1;
    },
  };
  const target = {
    groupByNode: (keys: Buffer[]) => new Map([[node, keys.map((_, i) => i)]]),
  } as unknown as RedisTarget;
  return { target, calls };
}

const keys = (...names: string[]) => names.map((n) => Buffer.from(n));

describe("RecreationWatch", () => {
  beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => void vi.useRealTimers());

  it("looks at a deleted key at the next check, and again a second or more later", async () => {
    const { target, calls } = fakeTarget();
    const watch = new RecreationWatch(target);
    watch.remember(keys("a", "b"));
    await watch.check();
    expect(calls.at(-1)!.keys).toEqual(["a", "b"]);
    vi.advanceTimersByTime(400);
    await watch.check();
    expect(calls).toHaveLength(1); // nothing new, nothing a second old yet
    vi.advanceTimersByTime(700);
    await watch.check();
    expect(calls.at(-1)!.keys).toEqual(["a", "b"]);
    vi.advanceTimersByTime(2000);
    await watch.check();
    expect(calls).toHaveLength(2); // each key is looked at twice, no more
  });

  it("at the end of a run waits until the newest deletions are a second old, then looks at every key still watched", async () => {
    const { target, calls } = fakeTarget();
    const watch = new RecreationWatch(target);
    watch.remember(keys("a"));
    await watch.check();
    vi.advanceTimersByTime(300);
    watch.remember(keys("b"));
    const t0 = Date.now();
    const done = watch.finalLook();
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - t0).toBe(1000);
    expect(calls[1]!.keys.sort()).toEqual(["a", "b"]);
  });

  it("at the end of a run that deleted nothing, neither waits nor looks", async () => {
    const { target, calls } = fakeTarget();
    const watch = new RecreationWatch(target);
    watch.remember([]);
    await watch.finalLook(); // with fake timers, any wait would never end
    expect(calls).toEqual([]);
  });

  it("says old-schema writes are on when a deleted key exists again", async () => {
    const { target } = fakeTarget(new Set(["b"]));
    const watch = new RecreationWatch(target);
    watch.remember(keys("a", "b"));
    await expect(watch.check()).rejects.toThrow(/old-schema writes are still on: b was re-created/);
  });
});
