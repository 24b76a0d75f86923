import os from "node:os";
import { startRedisCluster, startRedisServer } from "../redisProcess.js";
import { parseBenchArgs, type BenchArgs, type Operation } from "./args.js";
import { benchBackfill, rssCurve, type RssPoint } from "./backfill/index.js";
import { benchCleanup } from "./cleanup/index.js";
import { benchVerify } from "./verify/index.js";
import { benchFollow } from "./follow/index.js";
import { HUGE_JOBS, WIDE_FIELDS, WIDE_JOBS } from "./jobData.js";
import { attachProbe, closeProbe } from "./latencyProbe.js";
import { installSignalHandlers, runCleanups, using } from "./lifecycle.js";
import { analyse, printReport, printRssCurve, writeJson, type OperationReport } from "./report.js";
import { seedJobs, type SeedResult } from "./seed.js";
import { clusterTarget, singleTarget, type Target } from "./target.js";
import type { MethodResult } from "./types.js";

type Bench = (target: Target, opts: BenchOpts) => Promise<MethodResult[]>;
type BenchOpts = { batchSize: number; oneKeySeconds: number; seeded: SeedResult };

// Backfill deletes every copy it makes and verify its pairs, so each starts from the old
// keys alone; cleanup deletes old keys and re-seeds them before it returns.
const BENCH: Record<Exclude<Operation, "follow">, Bench> = {
  backfill: benchBackfill,
  verify: benchVerify,
  cleanup: benchCleanup,
};

/** Seeds once, then measures each asked operation on that same data, in order. */
async function seedAndBench(
  target: Target,
  keys: number,
  args: BenchArgs,
): Promise<OperationReport[]> {
  console.log(
    `\n[${target.kind}] seeding ${keys.toLocaleString("en-US")} old job hashes on ${target.masters.length} master(s)...`,
  );
  const seed: SeedResult = await seedJobs(target, keys, args.latency);
  const big = seed.big
    ? `, ${seed.big} big: ${WIDE_JOBS} with ${WIDE_FIELDS} more fields, ${HUGE_JOBS} with 1 MB params`
    : "";
  console.log(
    `  seeded in ${seed.seconds.toFixed(2)} s = ${Math.round(seed.keysPerSec).toLocaleString("en-US")} keys/s` +
      ` (${seed.withTtl} with TTL, ${seed.malformed} malformed${big})`,
  );
  const opts = { batchSize: args.batchSize, oneKeySeconds: args.oneKeySeconds, seeded: seed };
  const reports: OperationReport[] = [];
  const idle = args.latency ? await attachProbe(target, seed) : undefined;
  try {
    for (const op of args.only) {
      if (op === "follow") continue; // no seeded keyspace: see benchFollow
      console.log(`[${target.kind}] ${op}:`);
      const methods = await BENCH[op](target, opts);
      reports.push(analyse(op, target.kind, seed, args.batchSize, methods, idle));
    }
  } finally {
    closeProbe(target);
  }
  return reports;
}

async function main(): Promise<void> {
  installSignalHandlers();
  const args = parseBenchArgs(process.argv.slice(2));
  const reports: OperationReport[] = [];
  const load = os.loadavg()[0]!;
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${load.toFixed(2)}`);
  if (load > 0.5 * os.cpus().length)
    console.log("WARNING: the machine is busy, figures will be noisy");
  let redisVersion = "unknown";
  const seeded = args.only.some((op) => op !== "follow");
  const follow = args.only.includes("follow")
    ? await benchFollow({ cluster: args.cluster, ...args.follow })
    : undefined;
  if (!seeded) {
    const path = writeJson({ timestamp: new Date().toISOString(), args, ...follow });
    console.log(`results written to ${path}`);
    return;
  }

  await using(
    () => startRedisServer(),
    async (srv) => {
      const target = singleTarget(srv.url, { host: srv.host, port: srv.port });
      try {
        const info = await target.conns[0]!.info("server");
        redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? redisVersion;
        reports.push(...(await seedAndBench(target, args.keys, args)));
      } finally {
        await target.close();
      }
    },
  );

  if (args.cluster) {
    await using(
      () => startRedisCluster({ masters: 3 }),
      async (cl) => {
        const target = await clusterTarget(cl.url, cl.nodes[0]!);
        try {
          reports.push(...(await seedAndBench(target, args.clusterKeys, args)));
        } finally {
          await target.close();
        }
      },
    );
  }

  let curve: RssPoint[] | undefined;
  if (args.rssCurve) {
    console.log(`\n[single] tool peak RSS at N/4, N/2, N (fresh server each):`);
    const sizes = [Math.floor(args.keys / 4), Math.floor(args.keys / 2), args.keys];
    curve = await rssCurve(sizes, args.batchSize);
  }

  for (const r of reports) printReport(r);
  if (curve) printRssCurve(curve);
  const fails = reports.flatMap((r) =>
    r.targets.filter((t) => t.pass === false).map((t) => `${r.operation} ${r.kind}: ${t.name}`),
  );
  if (fails.length > 0)
    console.log(`\nFAIL: ${fails.length} target(s) missed: ${fails.join(", ")}`);
  else if (reports.some((r) => r.targets.some((t) => t.pass === null)))
    console.log(`\nINCOMPLETE: the tool did not run, targets not measured`);
  else console.log(`\nPASS: all targets met`);

  const path = writeJson({
    timestamp: new Date().toISOString(),
    args,
    env: {
      node: process.version,
      redis: redisVersion,
      cpus: os.cpus().length,
      loadAvgAtStart: load,
      platform: `${os.platform()} ${os.release()}`,
    },
    reports,
    ...(curve ? { rssCurve: curve } : {}),
    ...follow,
  });
  console.log(`results written to ${path}`);
}

main().catch(async (err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  await runCleanups();
  process.exitCode = 1;
});
