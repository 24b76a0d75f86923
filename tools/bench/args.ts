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
}

export const OPERATIONS = ["backfill", "verify", "cleanup"] as const;
export type Operation = (typeof OPERATIONS)[number];

const USAGE = `usage: node dist/tools/bench/run.js [options]
  --keys N            old job hashes to seed on the single instance (default 1000000)
  --cluster           also run on a 3-master cluster
  --cluster-keys N    old job hashes to seed on the cluster (default 200000)
  --batch-size N      SCAN COUNT for every method, passed through to the tool (default 500, as the tool)
  --one-key-seconds S time cap for the one-key-at-a-time baseline (default 15)
  --only OPS          comma-separated operations to measure: backfill, verify, cleanup (default: all)
  --rss-curve         also run the tool's backfill at N/4, N/2 and N on fresh servers and print peak RSS
  --latency           seed a few big hashes too, and while each method runs (and for 3 s idle) probe
                      HGET latency from another process and count SLOWLOG entries over 1/2/5 ms`;

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw.replace(/_/g, ""));
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`--${name} must be a positive integer, got "${raw}"\n${USAGE}`);
  }
  return n;
}

function operations(raw: string | undefined): Operation[] {
  if (raw === undefined) return [...OPERATIONS];
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
  };
}
