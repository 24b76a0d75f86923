import { sleep } from "../../../engine/time.js";
import type { RedisTarget } from "../../../redis/target.js";
import { oldKeyOf, type KeySchema } from "../../shared/keySchema.js";
import { FollowChecks } from "./followChecks.js";
import type { FollowOptions, FollowSnapshot } from "./followTypes.js";
import { sweepSince } from "./catchUp.js";
import { FollowedNodes, type GapToSweep } from "./followedNodes.js";
import { LagHistogram } from "./lagHistogram.js";
import { NotifySettings } from "./notifyConfig.js";
import { TouchedPairs, type TouchSource } from "./touchedPairs.js";

const TICK_MS = 100;
/** Catch-up sweeps look back this much before a gap began (clocks, LRU grain). */
const SWEEP_MARGIN_MS = 2000;

/**
 * verify --follow: learn from keyspace notifications which pairs the application writes,
 * and check each once it has been quiet for the settle time, through verify's own path
 * (direct reads, the exact comparer, recheck rounds, report, repair). Gaps in the events
 * (a lost connection, a failover, notifications turned off) are caught up by sweeps.
 * `tick` is called every TICK_MS with the live figures; the result is the last of them.
 */
export async function follow(
  target: RedisTarget,
  o: FollowOptions,
  tick: (s: FollowSnapshot) => void,
): Promise<FollowSnapshot & { stoppedBy: "signal" | "for"; unchecked: number }> {
  const counts: Record<string, number> = {};
  const add = (k: string, n = 1) => (counts[k] = (counts[k] ?? 0) + n);
  const snap: FollowSnapshot = {
    startedAtMs: Date.now(),
    counts,
    findings: [],
    lag: new LagHistogram(),
    pending: 0,
    admitting: o.sampleFraction,
    followedMasters: 0,
    gapsOpen: [],
  };
  const touched = new TouchedPairs(
    o.maxPending,
    o.sampleFraction,
    Math.max(30_000, 10 * o.settleMs),
  );
  let learning = true;
  const toOldKey = oldKeyMapper(o.schema);
  const admit = (oldKey: Buffer, source: TouchSource, atMs: number) => {
    if (!learning) return;
    const a = touched.touch(oldKey, atMs, source);
    add(a === "queued" ? (source === "event" ? "touched" : "caughtUp") : a);
  };
  const onKey = (key: Buffer) => {
    add("events");
    const old = toOldKey(key);
    if (old) admit(old, "event", Date.now());
    else add("foreignEvents");
  };

  const notify = new NotifySettings(o.enableNotifications, o.log);
  const gaps: GapToSweep[] = [];
  const nodes = new FollowedNodes(target, [o.schema.oldPrefix, o.schema.newPrefix], notify, {
    onKey,
    onGap: (g) => {
      add("gaps");
      gaps.push(g);
    },
    log: o.log,
  });
  const checks = new FollowChecks(target, o, snap, touched);

  let sweeping: Promise<void> | undefined;
  const sweepNext = () => {
    const g = gaps.shift();
    if (!g) return;
    const since = g.sinceMs - SWEEP_MARGIN_MS;
    const started = Date.now();
    o.log(
      "warn",
      `catch-up on ${g.address} (${g.why}): re-checking every pair written since ${new Date(since).toISOString()} (a SCAN of its keys, OBJECT IDLETIME <= ${Math.ceil((started - since) / 1000) + 1} s)`,
    );
    sweeping = sweepSince(
      g.client,
      [o.schema.oldPrefix, o.schema.newPrefix],
      since,
      o.batchSize,
      (key, idleMs) => {
        const old = toOldKey(key);
        if (old) admit(old, "sweep", Date.now() - idleMs);
      },
    )
      .then(
        (r) => {
          add("sweeps");
          o.log(
            "info",
            `catch-up on ${g.address} done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${r.scanned} keys scanned, ${r.touched} written since then, queued for a check${r.idleUnknown ? " (no idle times on this server, an LFU policy: every key taken)" : ""}`,
          );
        },
        (err: unknown) => {
          gaps.unshift(g); // tried again on the next tick
          o.log("warn", `catch-up on ${g.address} failed (${String(err)}); retrying`);
          return sleep(1000);
        },
      )
      .finally(() => (sweeping = undefined));
  };

  const deadline = o.forMs === undefined ? Infinity : snap.startedAtMs + o.forMs;
  // Masters not followed when learning stopped (their last events were missed).
  let unfollowedAtEnd: string[] | undefined;
  const refresh = () => {
    snap.pending = touched.size;
    snap.admitting = touched.fraction;
    snap.followedMasters = nodes.followed;
    snap.gapsOpen = [...gaps.map((g) => g.address), ...(unfollowedAtEnd ?? nodes.unfollowed)];
    if (sweeping) snap.gapsOpen.push("(a catch-up sweep in progress)");
    tick(snap);
  };
  try {
    await nodes.start();
    o.log(
      "info",
      `following writes under ${o.schema.oldPrefix} and ${o.schema.newPrefix} on ${nodes.followed} master(s); each touched pair is checked once quiet for ${o.settleMs} ms (writes before now are not followed: run a full verify for those)`,
    );
    let lastPollMs = Date.now();
    // In the background: a reading waits up to 2 s for a node that is down, and checks go on.
    let polling: Promise<void> | undefined;
    while (!o.signal.aborted && Date.now() < deadline) {
      if (checks.failure) throw checks.failure;
      await sleep(TICK_MS, o.signal).catch(() => undefined);
      if (!polling && Date.now() - lastPollMs >= 1000) {
        lastPollMs = Date.now();
        polling = nodes
          .poll(lastPollMs)
          .catch((err: unknown) => o.log("warn", `reading the topology failed: ${String(err)}`))
          .finally(() => (polling = undefined));
      }
      if (!sweeping) sweepNext();
      checks.pump();
      refresh();
    }
    await polling;
    const stoppedBy = o.signal.aborted ? "signal" : "for";
    if (stoppedBy === "for") {
      // Learn nothing new, finish the catch-ups, then check every pair still waiting.
      unfollowedAtEnd = nodes.unfollowed;
      nodes.close();
      const giveUpMs = Date.now() + o.failAfterMs;
      while ((sweeping || gaps.length > 0) && Date.now() < giveUpMs) {
        if (!sweeping) sweepNext();
        await sweeping;
      }
      learning = false;
      while (touched.size > 0 || checks.busy) {
        if (checks.failure) throw checks.failure;
        checks.pump();
        await sleep(TICK_MS);
        refresh();
      }
    } else {
      unfollowedAtEnd = nodes.unfollowed;
      learning = false;
    }
    await checks.drained();
    refresh();
    return { ...snap, stoppedBy, unchecked: touched.size };
  } finally {
    nodes.close();
    await notify.restore();
  }
}

/** The old key of a pair, from a key under either prefix (undefined: not a job key). */
function oldKeyMapper(schema: KeySchema): (key: Buffer) => Buffer | undefined {
  const oldP = Buffer.from(schema.oldPrefix);
  const newP = Buffer.from(schema.newPrefix);
  const starts = (key: Buffer, p: Buffer) =>
    key.length >= p.length && key.compare(p, 0, p.length, 0, p.length) === 0;
  return (key) => {
    const underOld = starts(key, oldP);
    // With nested prefixes the longer one decides.
    if (starts(key, newP) && (!underOld || newP.length > oldP.length))
      return oldKeyOf(schema, key)?.oldKey;
    return underOld ? key : undefined;
  };
}

export type { FollowOptions, FollowSnapshot } from "./followTypes.js";
