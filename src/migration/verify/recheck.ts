import { sleep } from "../../engine/time.js";

export interface RecheckPlan {
  rounds: number;
  delayMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * Re-examine suspects after a delay, several rounds: a pair caught between the
 * application's two writes (old key, then new key) looks divergent for a moment only.
 * A suspect that looks fine in any round is transient; one that stays suspect through
 * every round is confirmed, with what the last round saw.
 */
export async function recheck<T>(
  suspects: T[],
  plan: RecheckPlan,
  again: (suspects: T[]) => Promise<(T | undefined)[]>,
): Promise<{ confirmed: T[]; transient: T[] }> {
  let pending = suspects;
  const transient: T[] = [];
  for (let round = 0; round < plan.rounds && pending.length > 0; round++) {
    await sleep(plan.delayMs, plan.signal);
    const seen = await again(pending);
    const next: T[] = [];
    seen.forEach((s, i) => (s === undefined ? transient.push(pending[i]!) : next.push(s)));
    pending = next;
  }
  return { confirmed: pending, transient };
}
