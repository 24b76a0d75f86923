import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { parseMyself, type TopologyView } from "../../src/redis/clusterView.js";
import type { RedisTarget } from "../../src/redis/target.js";
import { describeSlots, fromRanges, toRanges } from "../../src/engine/slotRanges.js";
import {
  isMigrationError,
  isTopologyError,
  shardsOf,
  SlotWatch,
  type Topology,
} from "../../src/engine/topology.js";

describe("slot ranges", () => {
  it("round-trips and shortens for logs", () => {
    expect(toRanges([5, 1, 2, 3, 9, 10, 3])).toBe("1-3,5,9-10");
    expect(fromRanges("1-3,5,9-10")).toEqual([1, 2, 3, 5, 9, 10]);
    expect(fromRanges("")).toEqual([]);
    expect(describeSlots([1, 3, 5, 7, 9, 11, 13, 14])).toBe("8 slots (1,3,5,7,9,11,…)");
  });
});

describe("CLUSTER NODES myself line", () => {
  it("reads slots, ranges, epoch and the slots on the move", () => {
    const nodes = [
      "aaa 127.0.0.1:7001@17001 master - 0 1 1 connected 5461-10922",
      "bbb 127.0.0.1:7000@17000 myself,master - 0 0 7 connected 0-2 7 [8->-aaa] [9-<-aaa]",
      "ccc 127.0.0.1:7002@17002 slave aaa 0 1 1 connected",
    ].join("\n");
    expect(parseMyself(nodes)).toEqual({
      id: "bbb",
      master: true,
      configEpoch: 7,
      slots: [0, 1, 2, 7],
      moving: [8, 9],
    });
  });

  it("knows a demoted master", () => {
    const me = parseMyself("bbb 127.0.0.1:7000@17000 myself,slave aaa 0 0 7 connected\n");
    expect(me.master).toBe(false);
    expect(me.slots).toEqual([]);
  });
});

describe("error classes", () => {
  it("tells a topology move from a bug", () => {
    for (const m of [
      "MOVED 3999 127.0.0.1:6381",
      "ASK 3999 127.0.0.1:6381",
      "TRYAGAIN Multiple keys request during rehashing of slot",
      "ERR Script attempted to access a non local key in a cluster node script: x",
    ])
      expect(isMigrationError(new Error(m))).toBe(true);
    for (const m of [
      "READONLY You can't write against a read only replica.",
      "CLUSTERDOWN The cluster is down",
      "Connection is closed.",
      "connect ECONNREFUSED 127.0.0.1:7000",
    ]) {
      expect(isTopologyError(new Error(m))).toBe(true);
      expect(isMigrationError(new Error(m))).toBe(false);
    }
    expect(isTopologyError(new Error("ERR wrong number of arguments"))).toBe(false);
    expect(isTopologyError(new Error("WRONGTYPE Operation against a key"))).toBe(false);
  });
});

/** A view of masters owning the given slots (addresses and run ids made up). */
function view(
  masters: {
    address: string;
    runId?: string;
    slots: number[];
    moving?: number[];
    epoch?: number;
  }[],
): TopologyView {
  return {
    unsettled: undefined,
    masters: masters.map((m) => ({
      id: m.address,
      address: m.address,
      client: {} as Redis,
      runId: m.runId ?? `run-${m.address}`,
      configEpoch: m.epoch ?? 1,
      slots: m.slots,
      moving: m.moving ?? [],
    })),
  };
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

function watchOn(start: TopologyView) {
  let now = start;
  const saved: string[] = [];
  const topology = {
    target: { isCluster: true } as RedisTarget,
    read: async () => now,
  } as unknown as Topology;
  const shards = shardsOf(start);
  const watch = new SlotWatch(
    topology,
    shards,
    [],
    async (slots) => {
      saved.push(toRanges(slots));
    },
    () => undefined,
  );
  return { watch, shards, saved, set: (v: TopologyView) => (now = v) };
}

describe("SlotWatch", () => {
  const a = { address: "a:1", slots: range(0, 99) };
  const b = { address: "b:1", slots: range(100, 199) };

  it("defers slots that moved to another shard's master, saved before they count", async () => {
    const w = watchOn(view([a, b]));
    await w.watch.poll();
    expect(w.watch.pending()).toEqual([]);
    w.set(
      view([
        { ...a, slots: range(0, 89) },
        { ...b, slots: range(90, 199) },
      ]),
    );
    await w.watch.poll();
    expect(w.watch.pending().sort((x, y) => x - y)).toEqual(range(90, 99));
    expect(w.saved).toEqual(["90-99"]);
    expect(w.watch.isDeferred(Buffer.from("x"))).toBe(false);
  });

  it("defers slots seen migrating or importing, and forgets rescanned ones until they move again", async () => {
    const w = watchOn(view([a, b]));
    w.set(
      view([
        { ...a, moving: [5] },
        { ...b, moving: [5] },
      ]),
    );
    await w.watch.poll();
    expect(w.watch.pending()).toEqual([5]);
    // The slot ends up on b and is rescanned there: it now belongs to b's shard.
    const moved = view([
      { ...a, slots: range(0, 99).filter((s) => s !== 5) },
      { ...b, slots: [5, ...b.slots] },
    ]);
    w.set(moved);
    await w.watch.poll();
    await w.watch.settle([5], "b:1");
    expect(w.watch.pending()).toEqual([]);
    await w.watch.poll();
    expect(w.watch.pending()).toEqual([]);
    expect(w.saved.at(-1)).toBe("");
  });

  it("rescans every slot of a master whose epoch moved with no slot seen moving", async () => {
    const w = watchOn(view([a, b]));
    await w.watch.poll();
    // Slot 5 went to b and came back between two readings: a's epoch moved, b's too.
    w.set(
      view([
        { ...a, epoch: 3 },
        { ...b, epoch: 2 },
      ]),
    );
    await w.watch.poll();
    expect(w.watch.pending().sort((x, y) => x - y)).toEqual(range(0, 199));
  });

  it("takes an epoch explained by a slot seen arriving as that move only", async () => {
    const w = watchOn(view([a, b]));
    await w.watch.poll();
    w.set(
      view([
        { ...a, slots: range(1, 99) },
        { ...b, slots: [0, ...b.slots], epoch: 2 },
      ]),
    );
    await w.watch.poll();
    expect(w.watch.pending()).toEqual([0]);
  });

  it("calls a shard lost when its master is demoted or replaced, not when it only moves slots", async () => {
    const w = watchOn(view([a, b]));
    // A replica of a took over: same slots, another address and process.
    w.set(view([{ address: "a2:1", slots: a.slots }, b]));
    await w.watch.poll();
    expect(w.watch.lost(w.shards[0]!.key)).toBe(true);
    expect(w.watch.lost(w.shards[1]!.key)).toBe(false);
    expect(w.watch.pending()).toEqual([]); // a failover moves no slot between shards
  });
});
