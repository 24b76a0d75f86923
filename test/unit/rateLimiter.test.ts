import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RateLimiter } from "../../src/engine/rateLimiter.js";

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

const T0 = 1_000_000;

/** Run `take` for each batch in turn; record when each one was let through (ms after T0). */
async function admitTimes(limiter: RateLimiter, batches: number[]): Promise<number[]> {
  const times: number[] = [];
  const loop = (async () => {
    for (const n of batches) {
      await limiter.take(n);
      times.push(Date.now() - T0);
    }
  })();
  await vi.runAllTimersAsync();
  await loop;
  return times;
}

describe("RateLimiter", () => {
  it("lets N keys through in N/R seconds: batch k starts after the keys before it", async () => {
    const times = await admitTimes(new RateLimiter(100), [50, 50, 50, 50, 50]);
    // 200 keys precede the fifth batch: at 100 keys/s it starts at 2 s.
    expect(times).toEqual([0, 500, 1000, 1500, 2000]);
  });

  it("books uneven batches by their size, so batch sizing cannot beat the limit", async () => {
    const times = await admitTimes(new RateLimiter(1000), [1, 999, 500, 1]);
    expect(times).toEqual([0, 1, 1000, 1500]);
  });

  it("shares one budget between concurrent callers (one loop per master)", async () => {
    const limiter = new RateLimiter(200);
    const [a, b] = await Promise.all([
      admitTimes(limiter, [100, 100, 100]),
      admitTimes(limiter, [100, 100, 100]),
    ]);
    // 600 keys at 200 keys/s: the last of six 100-key batches starts at 2.5 s.
    expect([...a, ...b].sort((x, y) => x - y)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
  });

  it("says whether the caller was throttled", async () => {
    const limiter = new RateLimiter(10);
    const first = limiter.take(10);
    const second = limiter.take(10);
    await vi.runAllTimersAsync();
    expect(await first).toBe(false);
    expect(await second).toBe(true);
  });

  it("never waits and schedules no timer at rate 0 (unlimited)", async () => {
    const limiter = new RateLimiter(0);
    for (let i = 0; i < 5; i++) expect(await limiter.take(1_000_000)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    expect(Date.now()).toBe(T0);
  });

  it("applies a new rate set mid-run to the following batches", async () => {
    const limiter = new RateLimiter(100);
    await limiter.take(100); // books 0..1 s
    limiter.setRate(0);
    expect(limiter.limit).toBe(0);
    expect(await limiter.take(100)).toBe(false);
    expect(Date.now()).toBe(T0);
  });

  it("ends the wait early when the abort signal fires", async () => {
    const limiter = new RateLimiter(1);
    await limiter.take(60); // the next slot is a minute away
    const abort = new AbortController();
    let resolvedAt: number | undefined;
    const waiting = limiter.take(1, abort.signal).then(() => (resolvedAt = Date.now() - T0));
    await vi.advanceTimersByTimeAsync(250);
    expect(resolvedAt).toBeUndefined();
    abort.abort();
    await waiting;
    expect(resolvedAt).toBe(250);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not wait at all when the signal was already aborted", async () => {
    const limiter = new RateLimiter(1);
    await limiter.take(60);
    const abort = new AbortController();
    abort.abort();
    await limiter.take(1, abort.signal);
    expect(Date.now()).toBe(T0);
  });
});

describe("RateLimiter in real time", () => {
  beforeEach(() => {
    vi.useRealTimers();
  });

  it("takes about N/R seconds for N keys (300 keys at 1000 keys/s: ~0.3 s)", async () => {
    const limiter = new RateLimiter(1000);
    const start = performance.now();
    for (let i = 0; i < 7; i++) await limiter.take(50);
    // The seventh batch is admitted after the 300 keys before it.
    const elapsed = performance.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(295);
    expect(elapsed).toBeLessThan(1000);
  });
});
