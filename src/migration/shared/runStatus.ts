import { Checkpoint } from "../../engine/checkpoint.js";
import { savedTopology, type SavedTopology } from "../../engine/savedTopology.js";
import { deadHolderHere, RunLock, type LockOwner } from "../../engine/runLock.js";
import { stateKeys } from "../../engine/stateKeys.js";
import type { RedisClient } from "./redisClient.js";

/** What the state keys say about one subcommand's runs (read-only). */
export interface RunStatus {
  scope: string;
  last?: {
    runId: string;
    finishedAt: string;
    startedAt: string;
    durationMs?: number;
    counts: Record<string, number>;
    clean?: boolean;
    executed?: boolean;
  };
  current?: {
    runId: string;
    status: string;
    startedAt: string;
    updatedAt: string;
    processed: number;
    /** running: a live lock; stale: its holder is dead (lock gone or pid gone); stopped: interrupted/failed. */
    state: "running" | "stale" | "stopped";
    holder?: LockOwner | undefined;
    lockExpiresInMs?: number;
    /** The shards the checkpoint's cursors belong to (see engine/topology.ts). */
    topology: SavedTopology;
    /** How the deployment differs from them now (filled by readRollout; [] unchanged). */
    topologyChanges?: string[];
  };
}

export async function runStatus(
  client: RedisClient,
  statePrefix: string,
  scope: string,
): Promise<RunStatus> {
  const keys = stateKeys(statePrefix, scope);
  const out: RunStatus = { scope };
  const rawLast = await client.get(keys.lastResult);
  if (rawLast) out.last = JSON.parse(rawLast) as RunStatus["last"];
  const cp = await new Checkpoint(client, keys.checkpoint).load();
  if (cp && cp.status !== "completed") {
    const holder = await RunLock.holder(client, keys.lock);
    const ttl = holder ? await client.pttl(keys.lock) : -2;
    const deadHere = holder !== undefined && deadHolderHere(holder) !== undefined;
    const processed = Object.values(cp.nodes).reduce((a, p) => a + (p.counts.scanned ?? 0), 0);
    const topology = savedTopology(cp.nodes);
    const state = cp.status === "running" ? (holder && !deadHere ? "running" : "stale") : "stopped";
    out.current = {
      runId: cp.runId,
      status: cp.status,
      startedAt: cp.startedAt,
      updatedAt: cp.updatedAt,
      processed,
      state,
      holder,
      lockExpiresInMs: ttl > 0 ? ttl : undefined,
      topology,
    };
  }
  return out;
}
