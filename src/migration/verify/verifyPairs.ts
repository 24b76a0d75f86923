import type { BatchOutcome, ProcessBatch } from "../../engine/runSpec.js";
import type { ReplicaReads } from "../../redis/replicas.js";
import type { RedisTarget } from "../../redis/target.js";
import { add, tally } from "../shared/outcomes.js";
import { describeDivergence, type DivergenceRecord } from "./divergenceReport.js";
import { displayBytes, type Unmigratable } from "../shared/keySchema.js";
import type { Divergence } from "../shared/pairDiff.js";
import { recheck, type RecheckPlan } from "./recheck.js";
import { repairDivergence } from "./repair.js";
import { inSample } from "./sampling.js";
import {
  comparerFor,
  replicaComparer,
  replicaFirstComparer,
  type CompareOptions,
  type PairOutcome,
} from "./verifyCompare.js";
import { directFirstComparer } from "./verifyDirect.js";

export interface VerifySettings {
  compare: CompareOptions;
  /** Replicas to read pairs from first (see replicaFirstComparer). */
  replicas?: ReplicaReads | undefined;
  /** Fraction of pairs to check (1: all), chosen by key hash. */
  sampleFraction: number;
  recheck: RecheckPlan;
  repair: "no" | "dry-run" | "yes";
  /** Every divergence, as it is decided (the --report file). */
  sink?: ((record: DivergenceRecord) => Promise<void>) | undefined;
  /** A planned repair, with --repair --dry-run. */
  plan?: ((line: string) => void) | undefined;
  /** The first comparison of a batch, before any re-check (follow's lag figures). */
  compared?: ((keys: Buffer[], outcomes: PairOutcome[]) => void) | undefined;
}

/** Count, sample, report and (if asked) repair the decided divergences of one batch. */
export async function settleDivergences(
  target: RedisTarget,
  s: VerifySettings,
  out: BatchOutcome,
  decided: { confirmed: Divergence[]; transient: Divergence[] },
): Promise<void> {
  for (const d of decided.transient) {
    add(out, "transient");
    for (const k of d.kinds) add(out, `transient.${k}`);
    await s.sink?.(await describeDivergence(target.client, d, "transient"));
  }
  for (const d of decided.confirmed) {
    add(out, "confirmed");
    for (const k of d.kinds) add(out, `confirmed.${k}`);
    const rec = await describeDivergence(target.client, d, "confirmed");
    out.findings.push({ key: rec.oldKey, reason: `confirmed ${d.kinds.join(",")}`, data: rec });
    await s.sink?.(rec);
    // Orphans would need a delete, and a new key of another type is not ours to replace.
    const repairable = !d.kinds.includes("orphan") && !d.kinds.includes("new_wrong_type");
    if (s.repair === "dry-run" && repairable) {
      s.plan?.(`would repair: copy ${rec.oldKey} -> ${rec.newKey} (${d.kinds.join(", ")})`);
      add(out, "repairPlanned");
    } else if (s.repair === "yes" && repairable) {
      const repaired = await repairDivergence(target, d);
      add(out, repaired ? "repaired" : "repairFailed");
      if (!repaired)
        out.findings.push({
          key: rec.oldKey,
          reason: "repair_failed",
          detail: "the pair kept changing; run verify again",
        });
    }
  }
}

/**
 * Verify's main pass: compare each sampled old job with its new key; re-check what
 * differs; count and report equal, transient and confirmed pairs, and unmigratable keys.
 */
export function verifyPairs(target: RedisTarget, s: VerifySettings): ProcessBatch {
  const onMaster = comparerFor(target, s.compare);
  // Pairs read on replicas are proven there; otherwise equal pairs are proven by plain
  // pipelined reads and only the rest cost the exact comparer (see verifyDirect.ts).
  const first = s.replicas
    ? replicaFirstComparer(replicaComparer(target, s.replicas, s.compare), onMaster)
    : directFirstComparer(target, s.compare, onMaster);
  return async (keys, ctx) => {
    const out: BatchOutcome = { counts: {}, findings: [] };
    const sampled =
      s.sampleFraction >= 1 ? keys : keys.filter((k) => inSample(k, s.sampleFraction));
    if (sampled.length < keys.length) add(out, "outOfSample", keys.length - sampled.length);
    const outcomes = sampled.length ? await first(sampled) : [];
    s.compared?.(sampled, outcomes);
    const suspects: Divergence[] = [];
    const unmigratable: [Buffer, Unmigratable][] = [];
    outcomes.forEach((o, i) => {
      if (o.kind === "skipped") return add(out, "outOfScope");
      if (o.kind === "vanished") return add(out, "vanished");
      if (o.kind === "unmigratable") return void unmigratable.push([sampled[i]!, o.reason]);
      add(out, "checked");
      if (o.kind === "equal") add(out, "equal");
      else suspects.push(o.divergence);
    });
    for (const [key, reason] of unmigratable) {
      tally(out, key, reason);
      await s.sink?.({
        status: "confirmed",
        kinds: ["unmigratable"],
        reason,
        oldKey: displayBytes(key),
      });
    }
    if (suspects.length === 0) return out;
    // Re-checks mostly wait: let the walk go on meanwhile.
    ctx.parked();
    const decided = await recheck(suspects, s.recheck, async (ds) => {
      // Re-checks always read the master: it is the truth a divergence is confirmed on.
      const again = await onMaster(ds.map((d) => d.oldKey));
      return again.map((o) => (o.kind === "divergent" ? o.divergence : undefined));
    });
    await settleDivergences(target, s, out, decided);
    return out;
  };
}
