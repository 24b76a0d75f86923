/**
 * The single-instance backfill decides in Lua (copyIfAbsent-n.lua); the Cluster backfill
 * decides in TypeScript (mapOldKey). Both must accept and reject exactly the same keys,
 * for the same reason and towards the same new key, or a migration's result would depend
 * on the topology it ran on.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  mapOldKey,
  type KeySchema,
  type Unmigratable,
} from "../../src/migration/shared/keySchema.js";
import { connect } from "../../src/redis/connect.js";
import { parseRedisUrl } from "../../src/redis/redisUrl.js";
import type { RedisTarget } from "../../src/redis/target.js";
import { uniquePrefix } from "../support/targets.js";

type Verdict = "ok" | Unmigratable;

/** The script header's one-letter code for each TypeScript reason ("C"/"P" mean ok). */
const LUA_CODE: Record<Unmigratable, string> = {
  not_a_hash: "T",
  missing_workspace_id: "W",
  partial_hash: "H",
  invalid_workspace_id: "I",
  job_id_mismatch: "M",
  missing_job_id: "J",
};

const b = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

const BIN = b("job-", [0xff, 0x00, 0xfe, 0x0a, 0x80]);
const BIN_OFF = b("job-", [0xff, 0x00, 0xfe, 0x0a, 0x81]);
const NO = null; // field absent

/**
 * [case, id in the key, workspace_id field, job_id field, verdict both must reach, and
 * false when the hash has no status field (it has "result" instead)]
 */
const HASHES: [string, Buffer, Buffer | null, Buffer | null, Verdict, boolean?][] = [
  ["valid job", b("j1"), b("ws-1"), b("j1"), "ok"],
  ["32-char workspace", b("j2"), b("a".repeat(32)), b("j2"), "ok"],
  ["1-digit workspace", b("j3"), b("7"), b("j3"), "ok"],
  ["job id with ':' and glob chars", b("a:b*[c]?"), b("ws"), b("a:b*[c]?"), "ok"],
  ["binary job id", BIN, b("ws-1"), BIN, "ok"],
  ["33-char workspace", b("k1"), b("a".repeat(33)), b("k1"), "invalid_workspace_id"],
  ["uppercase workspace", b("k2"), b("Ws-1"), b("k2"), "invalid_workspace_id"],
  ["trailing newline in workspace", b("k3"), b("ws-1\n"), b("k3"), "invalid_workspace_id"],
  ["empty workspace", b("k4"), b(""), b("k4"), "invalid_workspace_id"],
  ["leading dash", b("k5"), b("-ws"), b("k5"), "invalid_workspace_id"],
  ["colon in workspace", b("k6"), b("ws:1"), b("k6"), "invalid_workspace_id"],
  ["NUL in workspace", b("k7"), b("ws", [0]), b("k7"), "invalid_workspace_id"],
  ["UTF-8 é in workspace", b("k8"), b("wé"), b("k8"), "invalid_workspace_id"],
  ["latin1 byte in workspace", b("k9"), b("w", [0xe9]), b("k9"), "invalid_workspace_id"],
  ["missing workspace", b("m1"), NO, b("m1"), "missing_workspace_id"],
  ["missing both fields: a partial hash", b("m2"), NO, NO, "partial_hash"],
  ["missing both fields and status", b("m7"), NO, NO, "missing_workspace_id", false],
  ["missing workspace, no status", b("m8"), NO, b("m8"), "missing_workspace_id", false],
  ["missing job_id", b("m3"), b("ws"), NO, "missing_job_id"],
  ["empty job_id at the bare prefix key", b(""), b("ws"), b(""), "missing_job_id"],
  ["job_id mismatch", b("m4"), b("ws"), b("other"), "job_id_mismatch"],
  ["job_id with trailing newline", b("m5"), b("ws"), b("m5\n"), "job_id_mismatch"],
  ["binary job_id one byte off", BIN, b("ws"), BIN_OFF, "job_id_mismatch"],
  ["invalid workspace beats mismatch", b("m6"), b("BAD"), b("x"), "invalid_workspace_id"],
];

/** [case, command that writes a non-hash value at the key] */
const NON_HASHES: [string, (r: Redis, k: Buffer) => Promise<unknown>][] = [
  ["string key", (r, k) => r.set(k, "v")],
  ["list key", (r, k) => r.rpush(k, "v")],
  ["set key", (r, k) => r.sadd(k, "v")],
  ["zset key", (r, k) => r.zadd(k, 1, "v")],
  ["stream key", (r, k) => r.xadd(k, "*", "f", "v")],
];

/** The Cluster path's decision (copyConfirm): type first, then mapOldKey on the stored bytes. */
async function tsVerdict(redis: Redis, schema: KeySchema, key: Buffer) {
  if ((await redis.type(key)) !== "hash") return { ok: false, reason: "not_a_hash" } as const;
  const [ws, jobId, status] = await redis.hmgetBuffer(key, "workspace_id", "job_id", "status");
  return mapOldKey(schema, key, ws ?? undefined, jobId ?? undefined, status !== null);
}

describe("copyIfAbsent-n.lua and mapOldKey", () => {
  let target: RedisTarget;
  let redis: Redis;
  beforeAll(async () => {
    target = await connect({ endpoint: parseRedisUrl(inject("redisSingleUrl")) });
    redis = target.client as Redis;
  });
  afterAll(async () => {
    await target.close();
  });

  // Each case under its own prefixes, so that a job id may repeat and each case's new
  // prefix shows exactly what the script wrote for it.
  const schemaFor = (p: string, i: number): KeySchema => ({
    oldPrefix: `${p}c${i}:ai:jobs:`,
    newPrefix: `${p}c${i}:ai:job:`,
  });

  // A full SCAN: one step with a large COUNT misses keys once the shared server is big.
  async function keysUnder(prefix: string): Promise<Buffer[]> {
    const glob = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
    const found: Buffer[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await redis.scanBuffer(cursor, "MATCH", glob, "COUNT", 10_000);
      found.push(...keys);
      cursor = next.toString();
    } while (cursor !== "0");
    return found;
  }

  it.each([false, true])(
    "agree on every hash case: same verdict, same new key (new key already there: %s)",
    async (present) => {
      const p = uniquePrefix("lua-map");
      for (const [i, [name, id, ws, jobId, expected, status]] of HASHES.entries()) {
        const schema = schemaFor(p, i);
        const oldKey = b(schema.oldPrefix, [...id]);
        const fields: (string | Buffer)[] =
          status === false ? ["result", "{}"] : ["status", "done"];
        if (ws) fields.push("workspace_id", ws);
        if (jobId) fields.push("job_id", jobId);
        await redis.hset(oldKey, ...fields);

        const ts = await tsVerdict(redis, schema, oldKey);
        expect(ts.ok ? "ok" : ts.reason, `TS verdict: ${name}`).toBe(expected);
        if (ts.ok && present) await redis.hset(ts.newKey, "status", "written-by-the-app");
        const code = await redis.copyIfAbsent(1, oldKey, schema.oldPrefix, schema.newPrefix);
        expect(code, `Lua code: ${name}`).toBe(ts.ok ? (present ? "P" : "C") : LUA_CODE[ts.reason]);

        const written = await keysUnder(schema.newPrefix);
        if (!ts.ok) {
          expect(written, `nothing written for: ${name}`).toEqual([]);
          continue;
        }
        // Lua wrote (or left alone) exactly the key TypeScript computed, byte for byte.
        expect(written, `new key: ${name}`).toEqual([ts.newKey]);
        if (present) expect(await redis.hget(ts.newKey, "status")).toBe("written-by-the-app");
        else
          expect(await redis.hgetallBuffer(ts.newKey)).toEqual(await redis.hgetallBuffer(oldKey));
      }
    },
  );

  it("agree that every non-hash type is not a hash, and copy nothing", async () => {
    const p = uniquePrefix("lua-types");
    for (const [i, [name, write]] of NON_HASHES.entries()) {
      const schema = schemaFor(p, i);
      const oldKey = b(schema.oldPrefix, "n1");
      await write(redis, oldKey);
      const ts = await tsVerdict(redis, schema, oldKey);
      expect(ts, name).toEqual({ ok: false, reason: "not_a_hash" });
      expect(await redis.copyIfAbsent(1, oldKey, schema.oldPrefix, schema.newPrefix), name).toBe(
        LUA_CODE.not_a_hash,
      );
      expect(await keysUnder(schema.newPrefix), name).toEqual([]);
    }
  });

  it("reports a vanished key as V and a key outside the old prefix as X, copying nothing", async () => {
    const p = uniquePrefix("lua-edge");
    const { oldPrefix, newPrefix } = schemaFor(p, 0);
    const outside = `${p}other:j1`;
    await redis.hset(outside, "workspace_id", "ws", "job_id", "j1");
    const gone = `${oldPrefix}gone`;
    expect(await redis.copyIfAbsent(2, gone, outside, oldPrefix, newPrefix)).toBe("VX");
    expect(await keysUnder(newPrefix)).toEqual([]);
  });

  it("answers a whole batch in one call, one code per key in KEYS order", async () => {
    const { oldPrefix, newPrefix } = schemaFor(uniquePrefix("lua-batch"), 0);
    await redis.hset(`${oldPrefix}a`, "workspace_id", "ws", "job_id", "a");
    await redis.hset(`${oldPrefix}b`, "workspace_id", "WS", "job_id", "b");
    await redis.set(`${oldPrefix}c`, "x");
    const keys = ["a", "b", "c"].map((id) => `${oldPrefix}${id}`);
    expect(await redis.copyIfAbsent(3, ...keys, oldPrefix, newPrefix)).toBe("CIT");
    expect(await redis.copyIfAbsent(3, ...keys, oldPrefix, newPrefix)).toBe("PIT");
  });
});
