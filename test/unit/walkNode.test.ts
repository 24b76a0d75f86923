/**
 * walkNode with every collaborator faked: a node whose SCAN returns one key per step,
 * and a pass whose batches end (or park) when the test says so. Shows how many batches
 * are in flight, and that accounting stays in SCAN order whatever order batches end in.
 */
import { describe, expect, it } from "vitest";
import type { NodeProgress } from "../../src/engine/checkpoint.js";
import type { BatchContext, BatchOutcome, PassSpec } from "../../src/engine/runSpec.js";
import { walkNode, type WalkContext } from "../../src/engine/walkNode.js";
import type { MasterNode } from "../../src/redis/target.js";

const STEPS = 12;

/** SCAN over keys k1..k<steps>, one per step; cursors "1", "2", ..., then "0". */
function fakeNode(steps = STEPS): MasterNode {
  const client = {
    scanBuffer: async (cursor: string) => {
      const i = Number(cursor);
      return [Buffer.from(i + 1 === steps ? "0" : String(i + 1)), [Buffer.from(`k${i + 1}`)]];
    },
  };
  return { id: "n1", address: "fake:1", client } as unknown as MasterNode;
}

interface Batch {
  key: string;
  ctx: BatchContext;
  end: () => void;
}

/** A pass whose batches wait for the test; `started` lists them as they begin. */
function controlledPass() {
  const started: Batch[] = [];
  const pass: PassSpec = {
    name: "main",
    keyPrefix: "k",
    processBatch: (keys, ctx) =>
      new Promise<BatchOutcome>((resolve) => {
        const key = keys[0]!.toString();
        started.push({ key, ctx, end: () => resolve({ counts: { [key]: 1 }, findings: [] }) });
      }),
  };
  return { pass, started };
}

function fakeContext(saved: string[]): WalkContext {
  return {
    checkpoint: {
      saveNode: async (_id: string, p: NodeProgress) => void saved.push(p.cursor),
    },
    progressId: "main:n1",
    limiter: { take: async () => false },
    tracker: { emit: () => undefined },
    throttle: {
      beforeBatch: async () => true,
      batchSizeFor: () => 1,
      afterBatch: () => undefined,
      pausedFor: undefined,
    },
    findingsCap: 10,
    signal: undefined,
    stop: () => false,
    resumed: false,
  } as unknown as WalkContext;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("walkNode", () => {
  it("keeps two batches working at a time", async () => {
    const { pass, started } = controlledPass();
    const progress: NodeProgress = { cursor: "0", done: false, counts: {}, findings: [] };
    const saved: string[] = [];
    const walk = walkNode(pass, fakeNode(), progress, fakeContext(saved));
    for (let i = 0; i < 5; i++) await flush();
    expect(started.map((b) => b.key)).toEqual(["k1", "k2"]);
    started[0]!.end();
    for (let i = 0; i < 5; i++) await flush();
    expect(started.map((b) => b.key)).toEqual(["k1", "k2", "k3"]);
    for (let i = 1; i < STEPS; i++) {
      started[i]!.end();
      for (let j = 0; j < 5; j++) await flush();
    }
    await walk;
    expect(progress.done).toBe(true);
    expect(Object.keys(progress.counts).filter((k) => k !== "scanned")).toHaveLength(STEPS);
  });

  it("starts the next batches while earlier ones are parked, and still accounts and saves in SCAN order", async () => {
    const { pass, started } = controlledPass();
    const progress: NodeProgress = { cursor: "0", done: false, counts: {}, findings: [] };
    const saved: string[] = [];
    const walk = walkNode(pass, fakeNode(), progress, fakeContext(saved));
    // Every batch parks as soon as it starts (as verify's do before their re-checks).
    for (let i = 0; i < 20 && started.length < STEPS; i++) {
      for (const b of started) b.ctx.parked();
      await flush();
    }
    expect(started.map((b) => b.key)).toEqual(Array.from({ length: STEPS }, (_, i) => `k${i + 1}`));
    expect(saved).toEqual([]); // nothing is done yet, so nothing is claimed
    // They end in reverse order; the checkpoint still advances k1, k2, ... only.
    for (const b of [...started].reverse()) {
      b.end();
      await flush();
      if (b.key !== "k1") expect(saved).toEqual([]);
    }
    await walk;
    expect(saved).toEqual([...Array.from({ length: STEPS - 1 }, (_, i) => String(i + 1)), "0"]);
    expect(progress.counts.scanned).toBe(STEPS);
  });

  it("has at most 64 batches in flight, parked or not", async () => {
    const { pass, started } = controlledPass();
    const progress: NodeProgress = { cursor: "0", done: false, counts: {}, findings: [] };
    const walk = walkNode(pass, fakeNode(80), progress, fakeContext([]));
    for (let i = 0; i < 200; i++) {
      for (const b of started) b.ctx.parked();
      await flush();
    }
    expect(started).toHaveLength(64);
    started[0]!.end();
    for (let i = 0; i < 10; i++) {
      for (const b of started) b.ctx.parked();
      await flush();
    }
    expect(started).toHaveLength(65);
    for (let i = 0; i < 200 && !progress.done; i++) {
      for (const b of started) b.end();
      await flush();
    }
    await walk;
    expect(progress.counts.scanned).toBe(80);
  });
});
