import { describe, expect, it } from "vitest";
import { CommandBudget, type Connection } from "../../src/redis/commandBudget.js";

/** A connection whose TIME is refused (an ACL): the budget times calls itself. */
const noTime = (): Connection => ({ time: () => Promise.reject(new Error("NOPERM")) });

/** A connection with a server clock that a call advances by its own work. */
function clocked() {
  let clockUs = 1_000_000_000;
  const conn: Connection = {
    time: () => Promise.resolve([String(Math.floor(clockUs / 1e6)), String(clockUs % 1e6)]),
  };
  const work = (usPerKey: number) => (a: number, b: number) => {
    clockUs += usPerKey * (b - a);
    return Promise.resolve(b - a);
  };
  return { conn, work };
}

/** A fake connection: each call waits until the test answers it. */
function fakeServer() {
  const calls: { from: number; to: number; answer: () => void }[] = [];
  const call = (from: number, to: number) =>
    new Promise<string>((resolve) =>
      calls.push({ from, to, answer: () => resolve(`${from}-${to}`) }),
    );
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { calls, call, settle };
}

describe("CommandBudget", () => {
  it("cuts a batch into chunks of half the budget at a first guess, results in order", async () => {
    const budget = new CommandBudget();
    budget.configure(1);
    const conn = noTime();
    const sizes: number[] = [];
    const out = await budget.inChunks(conn, "s", 35, async (a, b) => {
      sizes.push(b - a);
      return `${a}-${b}`;
    });
    // The first chunk at the first guess (50 µs a key: 10 keys), the next ones from what
    // it measured; the items are covered once, in order.
    expect(sizes[0]).toBe(10);
    expect(sizes.reduce((n, k) => n + k, 0)).toBe(35);
    let at = 0;
    for (const [i, r] of out.entries()) {
      expect(r).toBe(`${at}-${at + sizes[i]!}`);
      at += sizes[i]!;
    }
  });

  it("keeps at most one budget of estimated work queued on a connection", async () => {
    const budget = new CommandBudget();
    budget.configure(1);
    const conn = noTime();
    const { calls, call, settle } = fakeServer();
    const done = budget.inChunks(conn, "s", 60, call);
    await settle();
    // Two half-budget chunks in flight, the third waits for the first reply.
    expect(calls).toHaveLength(2);
    calls[0]!.answer();
    await settle();
    expect(calls.length).toBeGreaterThanOrEqual(3);
    let finished = false;
    void done.then(() => (finished = true));
    for (let i = 0; i < 1000 && !finished; i++) {
      calls.forEach((c) => c.answer());
      await settle();
    }
    expect(finished).toBe(true);
    expect(calls.reduce((n, c) => n + (c.to - c.from), 0)).toBe(60);
  });

  it("shares the lane between batches on one connection, and not across connections", async () => {
    const budget = new CommandBudget();
    budget.configure(1);
    const a = fakeServer();
    const b = fakeServer();
    const one = noTime();
    void budget.inChunks(one, "s", 40, a.call);
    void budget.inChunks(one, "s", 40, a.call);
    void budget.inChunks(noTime(), "s", 40, b.call);
    await a.settle();
    expect(a.calls).toHaveLength(2);
    expect(b.calls).toHaveLength(2);
  });

  it("sizes chunks from the measured time per key, and shrinks them when keys get slower", async () => {
    const budget = new CommandBudget();
    budget.configure(1);
    const slow = (ms: number) => () => new Promise((r) => setTimeout(r, ms));
    // 10 keys answered in ~20 ms: about 2 ms a key, so one key a chunk.
    await budget.inChunks(noTime(), "s", 10, slow(20));
    expect(budget.measuredUsPerKey("s")).toBeGreaterThan(1000);
    expect(budget.chunkKeys("s")).toBe(1);
    const fast = new CommandBudget();
    fast.configure(1);
    await fast.inChunks(noTime(), "s", 10, async () => undefined);
    expect(fast.chunkKeys("s")).toBeGreaterThan(10);
    expect(fast.chunkKeys("s")).toBeLessThanOrEqual(500);
  });

  it("sizes chunks from the server's own time (TIME around each call), not the client's", async () => {
    const budget = new CommandBudget();
    budget.configure(1);
    const { conn, work } = clocked();
    // The server spends 5 µs a key: chunks of 100 keys (half the budget), however slow the
    // client is to see the replies.
    const sizes = await budget.inChunks(conn, "s", 2000, async (a, b) => {
      const done = work(5)(a, b); // the server works in order, between the two TIMEs
      await new Promise((r) => setTimeout(r, 2)); // the client sees the reply late
      return done;
    });
    expect(budget.measuredUsPerKey("s")).toBeCloseTo(5, 5);
    expect(budget.chunkKeys("s")).toBe(100);
    expect(sizes.slice(-3, -1)).toEqual([100, 100]);
  });

  it("tells onSlow which items were in a call that took longer than the budget", async () => {
    const budget = new CommandBudget();
    budget.configure(1);
    const { conn, work } = clocked();
    const slow: [number, number][] = [];
    // 10 keys a chunk at the first guess; the chunk holding item 15 takes 3 ms.
    await budget.inChunks(
      conn,
      "s",
      30,
      (a, b) => work(a <= 15 && 15 < b ? 300 : 5)(a, b),
      (a, b) => slow.push([a, b]),
    );
    expect(slow).toHaveLength(1);
    const [[a, b]] = slow as [[number, number]];
    expect(a <= 15 && 15 < b).toBe(true);
  });

  it("releases the lane when a call fails, and reports the failure", async () => {
    const budget = new CommandBudget();
    budget.configure(1);
    const conn = noTime();
    await expect(
      budget.inChunks(conn, "s", 30, async (a) => {
        if (a === 10) throw new Error("boom");
        return a;
      }),
    ).rejects.toThrow("boom");
    expect(await budget.inChunks(conn, "s", 5, async (a, b) => b - a)).toEqual([5]);
  });

  it("derives the oversized threshold and the SCAN COUNT from the budget", () => {
    const budget = new CommandBudget();
    budget.configure(2);
    expect(budget.maxCommandMs).toBe(2);
    expect(budget.maxKeyBytes).toBe(250_000);
    expect(budget.scanCount).toBe(1000);
    expect(() => budget.configure(0)).toThrow(RangeError);
  });
});

describe("CommandBudget lanes", () => {
  it("never stalls on a lane left with a rounding residue by odd estimates", async () => {
    const budget = new CommandBudget();
    budget.configure(0.3);
    const conn = noTime();
    // Per-key times that make float sums leave a residue, then one key over the budget.
    for (const ms of [0.1, 0.7, 0.3, 1.1, 3]) {
      await budget.inChunks(conn, "s", 7, () => new Promise((r) => setTimeout(r, ms)));
    }
    expect(await budget.inChunks(conn, "s", 3, async (a, b) => b - a)).toHaveLength(3);
  });
});
