import { parseArgs } from "node:util";

export interface BenchArgs {
  keys: number;
  cluster: boolean;
  clusterKeys: number;
  batchSize: number;
  oneKeySeconds: number;
  rssCurve: boolean;
  /** Probe an app's latency and read SLOWLOG while each method runs (and idle). */
  latency: boolean;
  /** Operations to measure, in run order. */
  only: Operation[];
  /** verify --follow's proofs (with --only follow; see follow/index.ts). */
  follow: { seconds: number; rate: number; brokenEvery: number; memoryMinutes: number };
}

export const OPERATIONS = ["backfill", "verify", "cleanup", "follow"] as const;
/** What runs without --only: follow's proofs take minutes of their own. */
const DEFAULT_OPERATIONS: Operation[] = ["backfill", "verify", "cleanup"];
export type Operation = (typeof OPERATIONS)[number];

const USAGE = `usage: node dist/tools/bench/run.js [options]
  --keys N            old job hashes to seed on the single instance (default 1000000)
  --cluster           also run on a 3-master cluster
  --cluster-keys N    old job hashes to seed on the cluster (default 200000)
  --batch-size N      SCAN COUNT for every method, passed through to the tool (default 500, as the tool)
  --one-key-seconds S time cap for the one-key-at-a-time baseline (default 15)
  --only OPS          comma-separated operations to measure: backfill, verify, cleanup, follow
                      (default: backfill,verify,cleanup)
  --rss-curve         also run the tool's backfill at N/4, N/2 and N on fresh servers and print peak RSS
  --latency           seed a few big hashes too, and while each method runs (and for 3 s idle) probe
                      HGET latency from another process and count SLOWLOG entries over 1/2/5 ms
  follow (verify --follow's proofs; --cluster adds a 3-master Cluster):
  --follow-seconds S  length of each accuracy run (default 60)
  --follow-rate N     the app writer's Redis calls per second (default 2200)
  --broken-every N    1 in N updates skips the new key in the broken run (default 500)
  --memory-minutes M  also an M-minute run of distinct keys, RSS sampled every 10 s (default 0: none)`;

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw.replace(/_/g, ""));
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`--${name} must be a positive integer, got "${raw}"\n${USAGE}`);
  }
  return n;
}

function operations(raw: string | undefined): Operation[] {
  if (raw === undefined) return [...DEFAULT_OPERATIONS];
  const asked = raw.split(",").map((s) => s.trim());
  const bad = asked.find((op) => !(OPERATIONS as readonly string[]).includes(op));
  if (bad !== undefined || asked.length === 0) {
    throw new Error(
      `--only takes ${OPERATIONS.join(", ")} (comma-separated), got "${raw}"\n${USAGE}`,
    );
  }
  // Always in the canonical order: verify reads the old keys backfill leaves untouched,
  // and cleanup, which deletes them, comes last.
  return OPERATIONS.filter((op) => asked.includes(op));
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      keys: { type: "string" },
      cluster: { type: "boolean", default: false },
      "cluster-keys": { type: "string" },
      "batch-size": { type: "string" },
      "one-key-seconds": { type: "string" },
      "rss-curve": { type: "boolean", default: false },
      latency: { type: "boolean", default: false },
      only: { type: "string" },
      "follow-seconds": { type: "string" },
      "follow-rate": { type: "string" },
      "broken-every": { type: "string" },
      "memory-minutes": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    keys: positiveInt("keys", values.keys, 1_000_000),
    cluster: values.cluster ?? false,
    clusterKeys: positiveInt("cluster-keys", values["cluster-keys"], 200_000),
    batchSize: positiveInt("batch-size", values["batch-size"], 500),
    oneKeySeconds: positiveInt("one-key-seconds", values["one-key-seconds"], 15),
    rssCurve: values["rss-curve"] ?? false,
    latency: values.latency ?? false,
    only: operations(values.only),
    follow: {
      seconds: positiveInt("follow-seconds", values["follow-seconds"], 60),
      rate: positiveInt("follow-rate", values["follow-rate"], 2200),
      brokenEvery: positiveInt("broken-every", values["broken-every"], 500),
      memoryMinutes:
        values["memory-minutes"] === undefined
          ? 0
          : positiveInt("memory-minutes", values["memory-minutes"], 0),
    },
  };
}
