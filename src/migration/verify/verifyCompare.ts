import type { Redis } from "ioredis";
import { commandBudget } from "../../redis/commandBudget.js";
import type { ReplicaReads } from "../../redis/replicas.js";
import type { KeyRouter, RedisTarget } from "../../redis/target.js";
import { readInPages } from "../shared/hashPages.js";
import { readStates } from "../shared/nodeReads.js";
import { mapOldKey, type KeySchema, type Unmigratable } from "../shared/keySchema.js";
import { decodeCodes } from "../shared/scriptCodes.js";
import { diffPair, kindsOf, type Divergence, type KeyState } from "../shared/pairDiff.js";

/** What comparing one old key with its new key found. */
export type PairOutcome =
  | { kind: "equal" }
  | { kind: "skipped" }
  | { kind: "vanished" }
  | { kind: "unmigratable"; reason: Unmigratable }
  | { kind: "divergent"; divergence: Divergence };

export interface CompareOptions {
  schema: KeySchema;
  ttlToleranceMs: number;
  /** Only these workspaces (undefined: all). */
  workspaces: ReadonlySet<string> | undefined;
}

/** Compares the pairs of many old keys. */
export type Comparer = (oldKeys: Buffer[]) => Promise<PairOutcome[]>;

const EQUAL: PairOutcome = { kind: "equal" };
const SKIPPED: PairOutcome = { kind: "skipped" };
const VANISHED: PairOutcome = { kind: "vanished" };
const NOT_A_HASH: PairOutcome = { kind: "unmigratable", reason: "not_a_hash" };

/**
 * Single instance: verifyPairs-n.lua reads both keys of each pair at one instant, in short
 * calls (chunks of the batch, pipelined). A pair with a key too big for that ("O") is
 * read in pages instead.
 */
export function atomicComparer(client: Redis, o: CompareOptions): Comparer {
  const filter = o.workspaces ? `,${[...o.workspaces].join(",")},` : "";
  const paged = pairComparer((keys) => Promise.all(keys.map((k) => readInPages(client, k))), o);
  return async (oldKeys) => {
    if (oldKeys.length === 0) return [];
    const replies = await commandBudget.inChunks(client, "verifyPairs", oldKeys.length, (a, b) =>
      client.verifyPairsBuffer(
        b - a,
        ...oldKeys.slice(a, b),
        o.schema.oldPrefix,
        o.schema.newPrefix,
        o.ttlToleranceMs,
        filter,
        commandBudget.maxKeyBytes,
      ),
    );
    const codes = decodeCodes("verifyPairs", replies.map(([c]) => c.toString("latin1")).join(""));
    const details = replies.flatMap(([, d]) => d);
    let at = 0;
    const list = (): string[] => {
      const n = Number(details[at++]);
      const out = details.slice(at, at + n).map((b) => (b as Buffer).toString("latin1"));
      at += n;
      return out;
    };
    const outcomes = oldKeys.map((oldKey, i): PairOutcome => {
      const m = codes[i]!;
      if (m === "oversized") return SKIPPED; // replaced below
      if (m === "equal") return EQUAL;
      if (m === "skipped") return SKIPPED;
      if (m === "vanished") return VANISHED;
      if (m !== "divergent") return { kind: "unmigratable", reason: m };
      const newKey = details[at++] as Buffer;
      const newType = String(details[at++]);
      const oldTtlMs = Number(details[at++]);
      const newTtlMs = Number(details[at++]);
      const base = {
        oldKey,
        newKey,
        oldTtlMs,
        newTtlMs,
        differs: list(),
        missing: list(),
        extra: list(),
      };
      return {
        kind: "divergent",
        divergence: { ...base, kinds: kindsOf(base, newType, o.ttlToleranceMs) },
      };
    });
    const big = oldKeys.flatMap((_, i) => (codes[i] === "oversized" ? [i] : []));
    if (big.length > 0) {
      const again = await paged(big.map((i) => oldKeys[i]!));
      big.forEach((i, j) => (outcomes[i] = again[j]!));
    }
    return outcomes;
  };
}

/**
 * Cluster: the two keys of a pair live in different slots, so they are read one after
 * the other (old, then new). A pair caught between the application's two writes can
 * look divergent; the recheck rounds tell those apart.
 */
export function clusterComparer(target: KeyRouter, o: CompareOptions): Comparer {
  return pairComparer((keys) => readStates(target, keys), o);
}

/** Read the old keys, then their new keys, with `read`, and compare each pair. */
function pairComparer(read: (keys: Buffer[]) => Promise<KeyState[]>, o: CompareOptions): Comparer {
  return async (oldKeys) => {
    const olds = await read(oldKeys);
    const outcomes: PairOutcome[] = new Array<PairOutcome>(oldKeys.length);
    const pairs: { i: number; newKey: Buffer }[] = [];
    oldKeys.forEach((oldKey, i) => {
      const s = olds[i]!;
      if (s.type === "none") return (outcomes[i] = VANISHED);
      if (s.type !== "hash") return (outcomes[i] = NOT_A_HASH);
      const f = s.fields;
      const m = mapOldKey(
        o.schema,
        oldKey,
        f.get("workspace_id"),
        f.get("job_id"),
        f.has("status"),
      );
      if (!m.ok) return (outcomes[i] = { kind: "unmigratable", reason: m.reason });
      if (o.workspaces && !o.workspaces.has(s.fields.get("workspace_id")!.toString("latin1")))
        return (outcomes[i] = SKIPPED);
      pairs.push({ i, newKey: m.newKey });
    });
    const news = await read(pairs.map((p) => p.newKey));
    pairs.forEach(({ i, newKey }, j) => {
      const d = diffPair(oldKeys[i]!, newKey, olds[i]!, news[j]!, o.ttlToleranceMs);
      outcomes[i] = d ? { kind: "divergent", divergence: d } : EQUAL;
    });
    return outcomes;
  };
}

/**
 * Read pairs from a replica, and re-read on the master every pair the replica does not
 * show equal: a replica behind its master can only make a pair look wrong, never right
 * (a pair equal on the replica was equal on the master when the replica got there), so
 * nothing is called divergent from stale data, and the master serves only the suspects.
 */
export function replicaFirstComparer(replica: Comparer, master: Comparer): Comparer {
  return async (oldKeys) => {
    // A replica that fails (restarting, demoted, refusing) leaves the batch to the master.
    const first = await replica(oldKeys).catch(() => undefined);
    if (!first) return master(oldKeys);
    const redo = first.flatMap((o, i) => (o.kind === "equal" || o.kind === "skipped" ? [] : [i]));
    if (redo.length === 0) return first;
    const again = await master(redo.map((i) => oldKeys[i]!));
    redo.forEach((i, j) => (first[i] = again[j]!));
    return first;
  };
}

/**
 * Reads on the replicas that have caught up with their masters (see ReplicaReads): the
 * same comparison as on the masters, one batch's routing at a time.
 */
export function replicaComparer(
  target: RedisTarget,
  replicas: ReplicaReads,
  o: CompareOptions,
): Comparer {
  return async (oldKeys) => {
    const view = await replicas.view();
    return target.isCluster
      ? clusterComparer(view.router(target), o)(oldKeys)
      : atomicComparer(view.clientFor(target.client as Redis), o)(oldKeys);
  };
}

export function comparerFor(target: RedisTarget, o: CompareOptions): Comparer {
  return target.isCluster ? clusterComparer(target, o) : atomicComparer(target.client as Redis, o);
}
