import type { RunSpec } from "../../engine/runSpec.js";

/** What a subcommand's run takes from the CLI: the engine's run settings, as RunSpec says them. */
export type RunSettings = Pick<
  RunSpec,
  | "statePrefix"
  | "batchSize"
  | "rate"
  | "lockTtlMs"
  | "restart"
  | "findingsCap"
  | "version"
  | "signal"
  | "onEvent"
  | "targetBatchMs"
  | "loadLimits"
  | "maxPauseMs"
  | "settleMs"
>;
