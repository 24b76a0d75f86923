import type { Redis } from "ioredis";
import { RedisUnavailableError } from "../errors.js";
import type { MasterClaim } from "../redis/clusterView.js";
import { commandBudget } from "../redis/commandBudget.js";
import type { NodeProgress } from "./checkpoint.js";
import type { PassSpec } from "./runSpec.js";
import { globPrefix, scanStep } from "./scanNode.js";
import { sleep } from "./time.js";
import { describeSlots } from "./slotRanges.js";
import { isMigrationError, isTopologyError } from "./topology.js";
import { account } from "./walkNode.js";
import type { ShardContext } from "./walkShard.js";

/** Keys of one slot, if few enough for one GETKEYSINSLOT within the command budget. */
async function slotKeys(
  client: Redis,
  slots: number[],
): Promise<{ keys: Buffer[]; big: number[] }> {
  const pipe = client.pipeline();
  for (const s of slots) pipe.call("CLUSTER", "COUNTKEYSINSLOT", s);
  const counts = ((await pipe.exec()) ?? []).map(([err, n]) => {
    if (err) throw err;
    return Number(n);
  });
  const page = commandBudget.scanCount * 2;
  const keys: Buffer[] = [];
  const big: number[] = [];
  const fetch = client.pipeline();
  let asked = 0;
  slots.forEach((s, i) => {
    const n = counts[i] ?? 0;
    if (n === 0) return;
    if (n > page) big.push(s);
    else {
      fetch.callBuffer("CLUSTER", "GETKEYSINSLOT", s, n);
      asked++;
    }
  });
  if (asked > 0) {
    for (const [err, found] of (await fetch.exec()) ?? []) {
      if (err) throw err;
      keys.push(...(found as Buffer[]));
    }
  }
  return { keys, big };
}

/** Keys of big slots: the whole node is scanned (SCAN has no per-slot form). */
async function scanForSlots(
  client: Redis,
  pass: PassSpec,
  slots: ReadonlySet<number>,
  slotOf: (k: Buffer) => number,
): Promise<Buffer[]> {
  const keys: Buffer[] = [];
  const spec = { match: globPrefix(pass.keyPrefix), type: pass.keyType };
  let cursor = "0";
  do {
    const step = await scanStep(client, cursor, spec, 1000);
    for (const k of step.keys) if (slots.has(slotOf(k))) keys.push(k);
    cursor = step.cursor;
  } while (cursor !== "0");
  return keys;
}

/** Keep the pass's keys: its prefix, and its type when it walks one type. */
async function passKeys(client: Redis, pass: PassSpec, keys: Buffer[]): Promise<Buffer[]> {
  const prefix = Buffer.from(pass.keyPrefix);
  const under = keys.filter((k) => k.subarray(0, prefix.length).equals(prefix));
  if (!pass.keyType || under.length === 0) return under;
  const pipe = client.pipeline();
  for (const k of under) pipe.type(k);
  const types = (await pipe.exec()) ?? [];
  return under.filter((_, i) => types[i]?.[1] === pass.keyType);
}

/**
 * Rescan the slots the watch deferred during the pass, each on the master serving it once
 * it is no longer on the move: its keys (GETKEYSINSLOT, or a SCAN of the node for a slot
 * too big for one command) go through the pass's batches like any others, slot by slot.
 * A slot whose batch meets a key on the move (a pair's new key in a migrating slot) stays
 * owed and is tried again. Waits at most --settle-timeout without progress; then stops
 * with exit 3 and names the slots: a pass never completes over slots it could not prove
 * it visited.
 */
export async function rescanSlots(
  pass: PassSpec,
  progress: NodeProgress,
  ctx: ShardContext & { batchSize: number; slotOf: (k: Buffer) => number },
): Promise<void> {
  const { watch, topology } = ctx;
  let progressAt = Date.now();
  let failures = 0;
  while (watch.pending().length > 0 && !ctx.stop()) {
    const view = (await watch.poll()) ?? (await topology.settled("rescanning moved slots"));
    if (view.unsettled !== undefined) await topology.settled("rescanning moved slots");
    const moving = new Set(view.masters.flatMap((m) => m.moving));
    const pending = new Set(watch.pending());
    const ready = view.masters
      .map((m) => ({ m, slots: m.slots.filter((s) => pending.has(s) && !moving.has(s)) }))
      .filter((r) => r.slots.length > 0);
    let settled = 0;
    try {
      for (const { m, slots } of ready) {
        for (let i = 0; i < slots.length && !ctx.stop(); i += 50) {
          const done = await rescanGroup(pass, progress, ctx, m, slots.slice(i, i + 50));
          if (ctx.stop()) break; // a group cut short is still owed
          await watch.settle(done, m.address);
          await ctx.checkpoint.saveNode(ctx.progressId, progress);
          settled += done.length;
        }
      }
      failures = 0;
    } catch (err) {
      if (ctx.stop() || !isTopologyError(err) || ++failures > 20) throw err;
      ctx.log(
        "warn",
        `rescan of moved slots: ${err instanceof Error ? err.message : String(err)}; retrying`,
      );
    }
    if (settled > 0) {
      progressAt = Date.now();
      continue;
    }
    if (Date.now() - progressAt > topology.settleMs) {
      const owed = watch.pending();
      const onTheMove = owed.filter((s) => moving.has(s));
      const held = owed.length - onTheMove.length;
      throw new RedisUnavailableError(
        `slots stayed on the move longer than --settle-timeout: ${describeSlots(onTheMove)} on the move` +
          (held > 0 ? `, and ${held} slot(s) whose keys pair with keys on the move` : "") +
          `; their keys are not proven visited, so the run is not complete; the checkpoint is kept, run the same command again to resume`,
      );
    }
    await sleep(500, ctx.signal);
  }
}

/** Keys per slot, each slot's in the pass's batches; the slots fully handled. */
async function rescanGroup(
  pass: PassSpec,
  progress: NodeProgress,
  ctx: ShardContext & { batchSize: number; slotOf: (k: Buffer) => number },
  m: MasterClaim,
  slots: number[],
): Promise<number[]> {
  const { keys: few, big } = await slotKeys(m.client, slots);
  const many = big.length > 0 ? await scanForSlots(m.client, pass, new Set(big), ctx.slotOf) : [];
  const keys = [...(await passKeys(m.client, pass, few)), ...many];
  const bySlot = new Map<number, Buffer[]>(slots.map((s) => [s, []]));
  for (const k of keys) bySlot.get(ctx.slotOf(k))?.push(k);
  const node = { id: m.id, address: m.address, serverRunId: m.runId, client: m.client };
  const done: number[] = [];
  for (const [slot, ofSlot] of bySlot) {
    let whole = true;
    for (let i = 0; i < ofSlot.length && !ctx.stop(); i += ctx.batchSize) {
      const batch = ofSlot.slice(i, i + ctx.batchSize);
      await ctx.limiter.take(batch.length, ctx.signal);
      let outcome;
      try {
        outcome = await pass.processBatch(batch, { node, recheck: true, parked: () => undefined });
      } catch (err) {
        if (!isMigrationError(err)) throw err;
        whole = false; // a pair's other key is on the move: this slot stays owed
        break;
      }
      account(progress, batch.length, outcome, ctx.findingsCap);
      progress.counts.rescanned = (progress.counts.rescanned ?? 0) + batch.length;
      ctx.tracker.emit(false);
    }
    if (ctx.stop()) break;
    if (whole) done.push(slot);
  }
  return done;
}
