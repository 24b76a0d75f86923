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

/**
 * Any other key of the tool's own under the state prefix: the parts joined by ":"
 * ("cleanup", "deleted" → "<prefix>cleanup:deleted"). Every state key is named here or by
 * stateKeys, so the layout has one owner.
 */
export function stateKey(statePrefix: string, ...parts: string[]): string {
  return `${statePrefix}${parts.join(":")}`;
}

export function stateKeys(statePrefix: string, scope: string): StateKeys {
  const base = stateKey(statePrefix, scope);
  return {
    checkpoint: `${base}:checkpoint`,
    lock: `${base}:lock`,
    lastResult: `${base}:last`,
    control: `${base}:control`,
  };
}
