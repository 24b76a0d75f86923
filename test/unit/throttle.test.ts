import RedisMock from "ioredis-mock";
import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { LoadGuard } from "../../src/engine/loadGuard.js";
import { RateLimiter } from "../../src/engine/rateLimiter.js";
import { Throttle } from "../../src/engine/throttle.js";

function throttle(targetBatchMs: number | undefined, client = new RedisMock() as unknown as Redis) {
  return new Throttle({
    client,
    controlKey: "t:control",
    guard: new LoadGuard([], {}),
    limiter: new RateLimiter(0),
    batchSize: 500,
    targetBatchMs,
    maxPauseMs: 60_000,
    signal: undefined,
    onEvent: undefined,
  });
}

describe("Throttle's adaptive batch size", () => {
  it("adapts each master's size from that master's own batches only", () => {
    const t = throttle(50);
    for (let i = 0; i < 10; i++) {
      t.afterBatch("slow", t.batchSizeFor("slow"), 400); // 8 times the target
      t.afterBatch("fast", t.batchSizeFor("fast"), 5); // a tenth of it
    }
    expect(t.batchSizeFor("slow")).toBeLessThan(100);
    expect(t.batchSizeFor("fast")).toBeGreaterThan(2500);
    expect(t.batchSizeFor("untouched")).toBe(500);
  });

  it("stays within 10 and 10,000 keys, and keeps the size without a target", () => {
    const bounded = throttle(50);
    for (let i = 0; i < 40; i++) {
      bounded.afterBatch("a", bounded.batchSizeFor("a"), 100_000);
      bounded.afterBatch("b", bounded.batchSizeFor("b"), 0);
    }
    expect([bounded.batchSizeFor("a"), bounded.batchSizeFor("b")]).toEqual([10, 10_000]);
    const fixed = throttle(undefined);
    fixed.afterBatch("a", 500, 10_000);
    expect(fixed.batchSizeFor("a")).toBe(500);
  });

  it("a ctl batch= sets every master's size back to it", async () => {
    const client = new RedisMock() as unknown as Redis;
    const t = throttle(50, client);
    for (let i = 0; i < 5; i++) t.afterBatch("a", t.batchSizeFor("a"), 400);
    expect(t.batchSizeFor("a")).toBeLessThan(500);
    await client.hset("t:control", { batchSize: "300" });
    expect(await t.beforeBatch()).toBe(true);
    t.close();
    expect([t.batchSizeFor("a"), t.batchSizeFor("b")]).toEqual([300, 300]);
  });
});
