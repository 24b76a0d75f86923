import { stateKey } from "../../engine/stateKeys.js";
import { groupIndexes } from "../../groupIndexes.js";
import type { RedisTarget } from "../../redis/target.js";

const BUCKETS = 16;

function bucketOf(key: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193) >>> 0;
  return h % BUCKETS;
}

/**
 * The record of old keys cleanup deleted, so a rollback (`backfill --reverse`) rebuilds
 * exactly those and never invents old keys for jobs that only ever had a new key.
 * Sets under the state prefix; on a Cluster spread over 16 sets (and so over nodes).
 * Costs Redis memory: roughly the key name plus ~45 bytes per deleted job (MEMORY USAGE
 * of a set of 44-byte names: 88 bytes a member).
 */
export class Tombstones {
  constructor(
    private readonly target: RedisTarget,
    private readonly statePrefix: string,
  ) {}

  /** The single set used on a single instance (compareAndDelete-n.lua adds to it itself). */
  get singleKey(): string {
    return stateKey(this.statePrefix, "cleanup", "deleted");
  }

  private keyFor(oldKey: Buffer): string {
    return this.target.isCluster
      ? stateKey(this.statePrefix, "cleanup", "deleted", String(bucketOf(oldKey)))
      : this.singleKey;
  }

  private bySet(oldKeys: Buffer[]): Map<string, number[]> {
    return groupIndexes(oldKeys, (k) => this.keyFor(k));
  }

  /** Record keys about to be deleted (before the delete: a crash leaves a harmless extra). */
  async add(oldKeys: Buffer[]): Promise<void> {
    await Promise.all(
      [...this.bySet(oldKeys)].map(([set, idx]) =>
        this.target.client.sadd(set, ...idx.map((i) => oldKeys[i]!)),
      ),
    );
  }

  /** One SMISMEMBER per set, whatever the number of keys. */
  async has(oldKeys: Buffer[]): Promise<boolean[]> {
    const out = new Array<boolean>(oldKeys.length).fill(false);
    await Promise.all(
      [...this.bySet(oldKeys)].map(async ([set, idx]) => {
        const r = (await this.target.client.call(
          "SMISMEMBER",
          set,
          ...idx.map((i) => oldKeys[i]!),
        )) as number[];
        idx.forEach((i, j) => (out[i] = r[j] === 1));
      }),
    );
    return out;
  }
}
