import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreInPages, restoresInPages } from "../../src/migration/cleanup/restorePaged.js";
import { readHashBuffers } from "../support/appTraffic.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";

/** 250 fields (bytes that are not UTF-8 too) and one 600 kB value: too big for one HSET. */
function bigHash(key: string, expireAtMs: number) {
  const pairs: Buffer[] = [];
  for (let i = 0; i < 250; i++) pairs.push(Buffer.from(`f${i}`), Buffer.from([i, 0xff, 0]));
  pairs.push(Buffer.from("params"), Buffer.alloc(600_000, 7));
  return { key: Buffer.from(key), pairs, expireAtMs };
}

describe.each(targets())("restore of a big hash in pages on %s", (target: Target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it("puts every field back byte for byte with its expiry, never over an existing key unless forced, and leaves no temporary key", async () => {
    const key = `${uniquePrefix("paged")}ai:jobs:job-1`;
    const h = bigHash(key, Date.now() + 100_000);
    expect(restoresInPages(h)).toBe(true);
    expect(await restoreInPages(redis, h, false)).toBe(1);
    const got = await readHashBuffers(redis, key);
    expect(got.size).toBe(251);
    for (let i = 0; i < h.pairs.length; i += 2)
      expect(got.get(h.pairs[i]!.toString("latin1"))?.equals(h.pairs[i + 1]!)).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(90_000);
    expect(await redis.exists(`{${key}}.jobs-migrate-restoring`)).toBe(0);

    await redis.hset(key, "status", "changed-since");
    expect(await restoreInPages(redis, h, false)).toBe(0);
    expect(await redis.hget(key, "status")).toBe("changed-since");
    expect(await restoreInPages(redis, h, true)).toBe(1);
    expect(await redis.hexists(key, "status")).toBe(0);
    expect(await redis.exists(`{${key}}.jobs-migrate-restoring`)).toBe(0);
  });

  it("keeps the one-command restore for small hashes and for keys with a hash tag", () => {
    expect(
      restoresInPages({
        key: Buffer.from("a"),
        pairs: [Buffer.from("f"), Buffer.from("v")],
        expireAtMs: 0,
      }),
    ).toBe(false);
    expect(restoresInPages(bigHash("ai:jobs:{tagged}", 0))).toBe(false);
  });
});
