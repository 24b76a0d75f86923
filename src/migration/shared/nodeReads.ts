import { commandBudget } from "../../redis/commandBudget.js";
import type { KeyRouter, RedisTarget } from "../../redis/target.js";
import { fromFlat } from "./hashFields.js";
import { readInPages } from "./hashPages.js";
import type { KeyState } from "./pairDiff.js";

/**
 * readHashes-0.lua on each node owning some of the keys (short calls, pipelined); a key
 * too big for it is read in pages. Results in the keys' order.
 */
export async function readStates(target: KeyRouter, keys: Buffer[]): Promise<KeyState[]> {
  const out: KeyState[] = new Array<KeyState>(keys.length);
  await Promise.all(
    [...target.groupByNode(keys)].map(async ([node, idx]) => {
      const flat = (
        await commandBudget.inChunks(node, "readHashes", idx.length, (a, b) =>
          node.readHashesBuffer(commandBudget.maxKeyBytes, ...idx.slice(a, b).map((i) => keys[i]!)),
        )
      ).flat();
      let at = 0;
      const big: Promise<void>[] = [];
      for (const i of idx) {
        const type = String(flat[at]);
        const pttl = Number(flat[at + 1]);
        const m = Number(flat[at + 2]);
        out[i] = { type, pttl, fields: fromFlat(flat.slice(at + 3, at + 3 + 2 * m) as Buffer[]) };
        if (type === "oversized")
          big.push(readInPages(node, keys[i]!).then((s) => void (out[i] = s)));
        at += 3 + 2 * m;
      }
      await Promise.all(big);
    }),
  );
  return out;
}

/** workspaceOf-0.lua on each node owning some of the keys; results in the keys' order. */
export async function workspacesOf(
  target: RedisTarget,
  keys: Buffer[],
): Promise<(Buffer | null)[]> {
  const out = new Array<Buffer | null>(keys.length).fill(null);
  await Promise.all(
    [...target.groupByNode(keys)].map(async ([node, idx]) => {
      const ws = (
        await commandBudget.inChunks(node, "workspaceOf", idx.length, (a, b) =>
          node.workspaceOfBuffer(...idx.slice(a, b).map((i) => keys[i]!)),
        )
      ).flat();
      idx.forEach((i, j) => (out[i] = ws[j] ?? null));
    }),
  );
  return out;
}
