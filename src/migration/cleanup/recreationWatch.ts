import { sleep } from "../../engine/time.js";
import { GuardRefusedError } from "../../errors.js";
import { commandBudget } from "../../redis/commandBudget.js";
import type { RedisTarget } from "../../redis/target.js";
import { displayBytes } from "../shared/keySchema.js";

/** The refusal when an old key cleanup deleted comes back: old-schema writes are on. */
export function oldWritesOn(key: Buffer, how: string): GuardRefusedError {
  return new GuardRefusedError(
    `the application's old-schema writes are still on: ${displayBytes(key)} ${how}; ` +
      `stop writing old keys (update_status must write only the new key), then run cleanup again; ` +
      `to roll back instead, see runbooks/rollback.md (backfill --reverse)`,
  );
}

/** A deleted key is checked again at the next batch, and once more after this long. */
const SECOND_LOOK_MS = 1000;

/**
 * Old keys cleanup deleted, checked twice (before the next batch, and again a second or
 * more later) with one script call per node: one that exists again was re-created by
 * update_status, so the application's old-schema writes are still on.
 */
export class RecreationWatch {
  private fresh: Buffer[] = [];
  private aging: { at: number; keys: Buffer[] }[] = [];
  /** When the newest remembered deletion was made (0: none yet). */
  private lastDeletedAt = 0;
  constructor(private readonly target: RedisTarget) {}

  remember(keys: Buffer[]): void {
    if (keys.length === 0) return;
    this.fresh.push(...keys);
    this.lastDeletedAt = Date.now();
  }

  /**
   * At the end of a run: once the newest deletions are SECOND_LOOK_MS old, check every key
   * still watched. Nothing to wait for when no key is watched any more (say a run that
   * deleted nothing).
   */
  async finalLook(): Promise<void> {
    if (this.fresh.length === 0 && this.aging.every((e) => e.keys.length === 0)) return;
    const wait = this.lastDeletedAt + SECOND_LOOK_MS - Date.now();
    if (wait > 0) await sleep(wait);
    await this.check(true);
  }

  /** Check what is due; `all` (at the end of a run) checks everything still watched. */
  async check(all = false): Promise<void> {
    const now = Date.now();
    const due = this.fresh;
    this.aging.push({ at: now, keys: due });
    this.fresh = [];
    const old = this.aging.filter((e) => all || now - e.at >= SECOND_LOOK_MS);
    this.aging = all ? [] : this.aging.filter((e) => now - e.at < SECOND_LOOK_MS);
    const keys = [...due, ...old.flatMap((e) => (e.keys === due ? [] : e.keys))];
    if (keys.length === 0) return;
    await Promise.all(
      [...this.target.groupByNode(keys)].map(async ([node, idx]) => {
        // Per chunk: the index in idx of its first key that exists, or -1.
        const firsts = await commandBudget.inChunks(node, "countExisting", idx.length, (a, b) =>
          node
            .countExisting(...idx.slice(a, b).map((i) => keys[i]!))
            .then((first) => (first > 0 ? a + first - 1 : -1)),
        );
        const found = firsts.find((j) => j >= 0);
        if (found !== undefined)
          throw oldWritesOn(keys[idx[found]!]!, "was re-created after cleanup deleted it");
      }),
    );
  }
}
