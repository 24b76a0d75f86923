/** Everything that must be undone on exit, error or Ctrl-C (servers, child processes). */
type Cleanup = () => unknown;

const cleanups = new Set<Cleanup>();
let stopping = false;

export function onCleanup(fn: Cleanup): () => void {
  cleanups.add(fn);
  return () => void cleanups.delete(fn);
}

/** Runs the cleanups newest first; one failing does not skip the others. */
export async function runCleanups(): Promise<void> {
  const pending = [...cleanups].reverse();
  cleanups.clear();
  for (const fn of pending) {
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup failed: ${String(err)}`);
    }
  }
}

export function installSignalHandlers(): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      console.error(`\n${sig}: stopping redis servers and child processes...`);
      void runCleanups().finally(() => process.exit(130));
    });
  }
}

/** Acquire something that needs stopping, and make sure it is stopped whatever happens. */
export async function using<T extends { stop(): Promise<void> }, R>(
  start: () => Promise<T>,
  body: (resource: T) => Promise<R>,
): Promise<R> {
  const resource = await start();
  const off = onCleanup(() => resource.stop());
  try {
    return await body(resource);
  } finally {
    off();
    await resource.stop();
  }
}
