import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";

export type CheckpointStatus = "running" | "interrupted" | "failed" | "completed";

/** Something a run wants an operator to see about one key (a capped sample is kept). */
export interface Finding {
  key: string;
  reason: string;
  detail?: string;
  /** Structured details for JSON output (already safe to print). */
  data?: unknown;
  /** A leftover in the accepted set (see migration/shared/baseline.ts). */
  accepted?: boolean;
}

/** Per-master progress: its own SCAN cursor, because cursors are per-node state. */
export interface NodeProgress {
  /** run_id of the server process the cursor belongs to (see MasterNode.serverRunId). */
  serverRunId?: string | undefined;
  /** host:port of the master the cursor belongs to, for messages. */
  address?: string | undefined;
  /** Slots owed a rescan by slot (a pass's "rescan" entry only), as ranges. */
  pendingSlots?: string | undefined;
  cursor: string;
  done: boolean;
  counts: Record<string, number>;
  findings: Finding[];
}

export interface CheckpointState {
  runId: string;
  status: CheckpointStatus;
  fingerprint: string;
  options: string;
  version: string;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string | undefined;
  owner: string;
  nodes: Record<string, NodeProgress>;
}

/** Stable hash of the options that change what a run does (not how fast it runs). */
export function fingerprintOf(options: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(options)
      .sort()
      .map((k) => [k, options[k]]),
  );
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

const NODE = "node:";

/**
 * The checkpoint hash in Redis. Each master's progress lives in its own field, written
 * with one HSET after every batch, so a node's cursor and its counters always change
 * together and concurrent node loops never overwrite each other.
 */
export class Checkpoint {
  constructor(
    private readonly client: Redis | Cluster,
    readonly key: string,
  ) {}

  async load(): Promise<CheckpointState | undefined> {
    const h = await this.client.hgetall(this.key);
    if (!h.runId) return undefined;
    const nodes: Record<string, NodeProgress> = {};
    for (const [field, value] of Object.entries(h)) {
      if (field.startsWith(NODE))
        nodes[field.slice(NODE.length)] = JSON.parse(value) as NodeProgress;
    }
    return {
      runId: h.runId,
      status: h.status as CheckpointStatus,
      fingerprint: h.fingerprint ?? "",
      options: h.options ?? "{}",
      version: h.version ?? "?",
      startedAt: h.startedAt ?? "",
      updatedAt: h.updatedAt ?? "",
      finishedAt: h.finishedAt,
      owner: h.owner ?? "",
      nodes,
    };
  }

  /** Replace any previous checkpoint with a fresh one (a new run). */
  async create(state: CheckpointState): Promise<void> {
    const fields: Record<string, string> = {
      runId: state.runId,
      status: state.status,
      fingerprint: state.fingerprint,
      options: state.options,
      version: state.version,
      startedAt: state.startedAt,
      updatedAt: state.updatedAt,
      owner: state.owner,
    };
    for (const [id, p] of Object.entries(state.nodes)) fields[NODE + id] = JSON.stringify(p);
    await this.client.multi().del(this.key).hset(this.key, fields).exec();
  }

  saveNode(nodeId: string, progress: NodeProgress): Promise<number> {
    return this.client.hset(this.key, {
      [NODE + nodeId]: JSON.stringify(progress),
      updatedAt: new Date().toISOString(),
    });
  }

  async dropNode(nodeId: string): Promise<void> {
    await this.client.hdel(this.key, NODE + nodeId);
  }

  async setStatus(status: CheckpointStatus, extra: Record<string, string> = {}): Promise<void> {
    await this.client.hset(this.key, { status, updatedAt: new Date().toISOString(), ...extra });
  }
}
