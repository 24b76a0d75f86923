/** What a run tells whoever renders it (the CLI); the engine never prints. */
export type RunEvent =
  | {
      type: "progress";
      /** Keys handled so far in this run, including before a resume. */
      processed: number;
      /** Estimated keys under the prefix (sampled), or undefined when unknown. */
      estimatedTotal: number | undefined;
      /** Keys per second in this process. */
      rate: number;
      /** Seconds left at the current rate, when an estimate exists. */
      etaSeconds: number | undefined;
      counts: Record<string, number>;
      throttled: boolean;
      /** Why the run is waiting (a load guard or ctl pause), if it is. */
      paused?: string | undefined;
      done: boolean;
    }
  | { type: "log"; level: "info" | "warn"; message: string };

export type RunEventListener = (event: RunEvent) => void;
