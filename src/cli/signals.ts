import { setMaxListeners } from "node:events";

/**
 * SIGINT/SIGTERM ask the run to stop after the batch in flight (it then saves its
 * checkpoint and exits 130). A second signal exits at once: the checkpoint saved after
 * the previous batch still stands, and re-processing a batch is harmless.
 */
export function stopOnSignals(onFirst: (signal: string) => void): {
  signal: AbortSignal;
  dispose(): void;
} {
  const controller = new AbortController();
  // Every waiting batch (up to 64 per master, each parked in a re-check delay) listens
  // for the stop for a moment: not a leak, so no warning about it.
  setMaxListeners(0, controller.signal);
  const handler = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    onFirst(sig);
    controller.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
