import type { RunEventListener } from "../../engine/events.js";
import type { LoadLimits } from "../../engine/loadGuard.js";

export interface RunSettings {
  statePrefix: string;
  batchSize: number;
  rate: number;
  lockTtlMs: number;
  restart: boolean;
  findingsCap: number;
  version: string;
  signal?: AbortSignal | undefined;
  onEvent?: RunEventListener | undefined;
  targetBatchMs?: number | undefined;
  loadLimits?: LoadLimits | undefined;
  maxPauseMs?: number | undefined;
  /** How long a run waits for the deployment to settle after a failover (exit 3 after). */
  settleMs?: number | undefined;
}
