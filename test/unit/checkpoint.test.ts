import type { Redis } from "ioredis";
import RedisMock from "ioredis-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  Checkpoint,
  fingerprintOf,
  type CheckpointState,
  type NodeProgress,
} from "../../src/engine/checkpoint.js";

describe("fingerprintOf", () => {
  const base = { subcommand: "backfill", oldPrefix: "ai:jobs:", newPrefix: "ai:job:" };

  it("does not depend on the order of the option keys", () => {
    const reordered = { newPrefix: "ai:job:", subcommand: "backfill", oldPrefix: "ai:jobs:" };
    expect(fingerprintOf(reordered)).toBe(fingerprintOf(base));
  });

  it("changes when any value changes", () => {
    const f = fingerprintOf(base);
    expect(fingerprintOf({ ...base, oldPrefix: "ai:jobz:" })).not.toBe(f);
    expect(fingerprintOf({ ...base, subcommand: "verify" })).not.toBe(f);
    expect(fingerprintOf({ ...base, sample: 1 })).not.toBe(f);
  });

  it("tells a number from its string form and keys from values", () => {
    expect(fingerprintOf({ n: 1 })).not.toBe(fingerprintOf({ n: "1" }));
    expect(fingerprintOf({ a: "b" })).not.toBe(fingerprintOf({ b: "a" }));
  });

  it("is a short stable hex digest", () => {
    expect(fingerprintOf(base)).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprintOf({ ...base })).toBe(fingerprintOf(base));
  });
});

function state(nodes: Record<string, NodeProgress>): CheckpointState {
  return {
    runId: "run-1",
    status: "running",
    fingerprint: "abcd",
    options: '{"batchSize":500}',
    version: "0.1.0",
    startedAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:00.000Z",
    owner: "host:123",
    nodes,
  };
}

const fresh = (): NodeProgress => ({ cursor: "0", done: false, counts: {}, findings: [] });

describe("Checkpoint (ioredis-mock)", () => {
  let redis: Redis;
  let cp: Checkpoint;
  beforeEach(() => {
    redis = new RedisMock() as unknown as Redis;
    cp = new Checkpoint(redis, `t-${Math.random().toString(16).slice(2)}:checkpoint`);
  });
  afterEach(async () => {
    await redis.flushall();
    redis.disconnect();
  });

  it("loads nothing when no run was ever started", async () => {
    expect(await cp.load()).toBeUndefined();
  });

  it("loads back exactly what create stored, per node", async () => {
    const s = state({ a: fresh(), b: { ...fresh(), serverRunId: "r1" } });
    await cp.create(s);
    expect(await cp.load()).toEqual({ ...s, finishedAt: undefined });
  });

  it("replaces a previous checkpoint entirely, dropping nodes of the old run", async () => {
    await cp.create(state({ old: fresh() }));
    await cp.setStatus("completed", { finishedAt: "2025-01-02T00:00:00.000Z" });
    await cp.create({ ...state({ a: fresh() }), runId: "run-2" });
    const loaded = await cp.load();
    expect(loaded?.runId).toBe("run-2");
    expect(Object.keys(loaded!.nodes)).toEqual(["a"]);
    expect(loaded?.finishedAt).toBeUndefined();
    expect(loaded?.status).toBe("running");
  });

  it("saves one node's cursor, counts and findings without touching the others", async () => {
    await cp.create(state({ a: fresh(), b: fresh() }));
    const progress: NodeProgress = {
      serverRunId: "run-id-a",
      cursor: "1234",
      done: false,
      counts: { scanned: 500, copied: 498, unmigratable: 2 },
      findings: [{ key: "ai:jobs:\\xff", reason: "invalid_workspace_id", detail: "x" }],
    };
    await cp.saveNode("a", progress);
    const loaded = await cp.load();
    expect(loaded?.nodes.a).toEqual(progress);
    expect(loaded?.nodes.b).toEqual(fresh());
    expect(Date.parse(loaded!.updatedAt)).toBeGreaterThan(Date.parse("2025-01-01T00:00:00Z"));
  });

  it("records the final status with extra fields", async () => {
    await cp.create(state({ a: fresh() }));
    await cp.setStatus("interrupted");
    expect((await cp.load())?.status).toBe("interrupted");
    await cp.setStatus("completed", { finishedAt: "2025-01-03T00:00:00.000Z" });
    const loaded = await cp.load();
    expect(loaded?.status).toBe("completed");
    expect(loaded?.finishedAt).toBe("2025-01-03T00:00:00.000Z");
    expect(loaded?.runId).toBe("run-1");
  });

  it("ignores a hash without runId (not a checkpoint)", async () => {
    await redis.hset(cp.key, { status: "running" });
    expect(await cp.load()).toBeUndefined();
  });
});
