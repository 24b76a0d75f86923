import type { Finding } from "../../../engine/checkpoint.js";
import type { KeySchema } from "../../shared/keySchema.js";
import type { VerifySettings } from "../verifyPairs.js";
import type { LagHistogram } from "./lagHistogram.js";

/** What a follow session is asked to do (verify's options, and the session's own). */
export interface FollowOptions {
  schema: KeySchema;
  ttlToleranceMs: number;
  workspaces: string[] | undefined;
  /** --sample as a fraction (follow has no total to turn a count into one). */
  sampleFraction: number;
  recheckRounds: number;
  recheckDelayMs: number;
  repair: "no" | "dry-run" | "yes";
  sink?: VerifySettings["sink"];
  plan?: VerifySettings["plan"];
  /** A pair is checked once no write touched it for this long. */
  settleMs: number;
  /** Stop by itself after this long (undefined: until a signal). */
  forMs: number | undefined;
  /** Touched pairs waiting at most (see TouchedPairs). */
  maxPending: number;
  enableNotifications: boolean;
  /** SCAN COUNT of the catch-up sweeps. */
  batchSize: number;
  statePrefix: string;
  /** Findings kept for the summary (every one is counted and reported). */
  findingsCap: number;
  /** How long checks may keep failing (Redis away) before follow gives up (exit 3). */
  failAfterMs: number;
  signal: AbortSignal;
  log(level: "info" | "warn", message: string): void;
  /** The lag of each pair learned from an event, as its check ends (for the metrics). */
  onLag?: (ms: number) => void;
}

/** Live figures, and in the end the session's result. */
export interface FollowSnapshot {
  startedAtMs: number;
  counts: Record<string, number>;
  findings: Finding[];
  lag: LagHistogram;
  /** Touched pairs waiting for their settle time or a check. */
  pending: number;
  /** The admission fraction now (below 1: overload sampling, or --sample). */
  admitting: number;
  followedMasters: number;
  /** Gaps whose catch-up sweep has not finished (their pairs are not proven). */
  gapsOpen: string[];
}
