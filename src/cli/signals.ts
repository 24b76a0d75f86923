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
