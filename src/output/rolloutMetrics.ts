import { Gauge, type Registry } from "prom-client";
import { addBuildInfo, scopedRegistry } from "./metrics.js";

/** What `jobs-migrate flag` read, as the metrics need it. */
export interface RolloutFigures {
  phase: string;
  phases: readonly string[];
  /** Each gate and whether it is met now. */
  gates: Record<string, boolean>;
  keys: { old: number; new: number; partialOld: number; exact: boolean };
  /** The effective flag (environment, else Redis): undefined when neither says. */
  flagOn: boolean | undefined;
  flagDisagree: boolean;
}

/**
 * `flag --metrics-file/--pushgateway`: the rollout state as gauges, so a dashboard shows
 * the phase and which gates are met: jobs_migrate_rollout_phase{phase} (1 for the current
 * one), _gate_met{gate}, _keys{side} (old, new, partial_old), _keys_exact, _flag_on (-1:
 * unknown), _flag_disagree, and jobs_migrate_build_info. Labelled scope="all".
 */
export function buildRolloutMetrics(f: RolloutFigures): Registry {
  const registry = scopedRegistry("all");
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name: `jobs_migrate_rollout_${name}`, help, labelNames, registers: [registry] });
  const phase = gauge("phase", "1 for the phase the data shows, 0 for the others.", ["phase"]);
  for (const p of f.phases) phase.set({ phase: p.replace(/\W+/g, "_") }, p === f.phase ? 1 : 0);
  const gate = gauge("gate_met", "1 if the gate (flag --require) is met now, else 0.", ["gate"]);
  for (const [name, met] of Object.entries(f.gates)) gate.set({ gate: name }, met ? 1 : 0);
  const keys = gauge("keys", "Job keys by side (sampled estimates unless _keys_exact is 1).", [
    "side",
  ]);
  keys.set({ side: "old" }, f.keys.old);
  keys.set({ side: "new" }, f.keys.new);
  keys.set({ side: "partial_old" }, f.keys.partialOld);
  gauge("keys_exact", "1 if the key counts are exact (flag --count), 0 if estimated.").set(
    f.keys.exact ? 1 : 0,
  );
  gauge("flag_on", "AI_JOBS_NEW_SCHEMA in effect: 1 on, 0 off, -1 unknown.").set(
    f.flagOn === undefined ? -1 : f.flagOn ? 1 : 0,
  );
  gauge("flag_disagree", "1 if the environment and the Redis flag key disagree.").set(
    f.flagDisagree ? 1 : 0,
  );
  addBuildInfo(registry);
  return registry;
}
