/**
 * Where a run keeps its state in Redis. Every subcommand and scope gets its own
 * checkpoint, lock and last-result keys under the configurable state prefix.
 */
export interface StateKeys {
  checkpoint: string;
  lock: string;
  lastResult: string;
  /** Written by `jobs-migrate ctl` from any host: pause, resume, rate, batch size. */
  control: string;
}

export function stateKeys(statePrefix: string, scope: string): StateKeys {
  const base = `${statePrefix}${scope}`;
  return {
    checkpoint: `${base}:checkpoint`,
    lock: `${base}:lock`,
    lastResult: `${base}:last`,
    control: `${base}:control`,
  };
}
