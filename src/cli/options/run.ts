/**
 * The options of the subcommands that send the server scripts and pipelined batches
 * (the command budget), and of the resumable SCAN runs (backfill, verify, cleanup).
 */
import { Option, type Command } from "commander";
import { z } from "zod";
import { addConnectionOptions, addJsonOption, jsonShape } from "./connection.js";
import { addDeprecatedName } from "./deprecated.js";
import { duration, int, optionalInt, yesNo } from "./fields.js";

/** --max-command-ms: backfill, verify, cleanup, restore and flag (its exact counts). */
export function addBudgetOption(cmd: Command): Command {
  return cmd.addOption(
    new Option(
      "--max-command-ms <ms>",
      "longest a single command of ours may hold the server (a batch goes in short calls)",
    )
      .env("JOBS_MIGRATE_MAX_COMMAND_MS")
      .default("1"),
  );
}

export const budgetShape = {
  maxCommandMs: z.string().transform((s, ctx) => {
    const n = Number(s);
    if (!/^\d+(\.\d+)?$/.test(s) || !(n >= 0.1 && n <= 60_000)) {
      ctx.addIssue({
        code: "custom",
        message: `--max-command-ms must be a number of milliseconds from 0.1 to 60000 (got "${s}")`,
      });
      return z.NEVER;
    }
    return n;
  }),
};

/** The SCAN run's options: batch, pace, lock, load guards, checkpoint, progress. */
export function addRunOptions(cmd: Command): Command {
  cmd
    .addOption(
      new Option("--batch-size <n>", "keys per SCAN batch (SCAN COUNT), 1-10000")
        .env("JOBS_MIGRATE_BATCH_SIZE")
        .default("500"),
    )
    .addOption(
      new Option("--rate <keys/s>", "at most this many keys per second (0: no limit)")
        .env("JOBS_MIGRATE_RATE")
        .default("0"),
    )
    .addOption(
      new Option("--lock-ttl <ms>", "lock expiry; a heartbeat renews it every third")
        .env("JOBS_MIGRATE_LOCK_TTL_MS")
        .default("30000"),
    )
    .addOption(
      new Option("--list-limit <n>", "findings listed in the summary (all are counted)").default(
        "20",
      ),
    )
    .addOption(
      new Option(
        "--progress-interval <s>",
        "seconds between progress lines when not on a terminal",
      ).default("10"),
    )
    .addOption(
      new Option(
        "--target-batch-ms <ms>",
        "adapt the batch size so a batch takes about this long",
      ).env("JOBS_MIGRATE_TARGET_BATCH_MS"),
    )
    .addOption(
      new Option("--max-latency <ms>", "pause while the server's PING round trip exceeds this").env(
        "JOBS_MIGRATE_MAX_LATENCY_MS",
      ),
    )
    .addOption(
      new Option("--max-memory <pct>", "pause while used_memory exceeds this % of maxmemory").env(
        "JOBS_MIGRATE_MAX_MEMORY_PCT",
      ),
    )
    .addOption(
      new Option(
        "--max-replica-lag <bytes>",
        "pause while a replica is further behind than this",
      ).env("JOBS_MIGRATE_MAX_REPLICA_LAG"),
    )
    .addOption(
      new Option("--max-ops <n>", "pause while the server does more ops/s than this").env(
        "JOBS_MIGRATE_MAX_OPS",
      ),
    )
    .addOption(
      new Option(
        "--max-pause <duration>",
        "stop (exit 130, checkpoint saved) after pausing this long",
      )
        .env("JOBS_MIGRATE_MAX_PAUSE")
        .default("1h"),
    )
    .addOption(
      new Option(
        "--settle-timeout <duration>",
        "how long a run waits for a failover, restart or slot migration to settle before exit 3",
      )
        .env("JOBS_MIGRATE_SETTLE_TIMEOUT")
        .default("2m"),
    )
    .option("--restart", "discard the saved checkpoint and start from the beginning");
  return addDeprecatedName(cmd, "--sample-size <n>", "--list-limit");
}

export const runShape = {
  batchSize: int("--batch-size", 1, 10000),
  rate: int("--rate", 0, 10_000_000),
  lockTtl: int("--lock-ttl", 200, 3_600_000),
  listLimit: int("--list-limit", 0, 10000),
  progressInterval: int("--progress-interval", 1, 86400),
  targetBatchMs: optionalInt("--target-batch-ms", 1, 600_000),
  maxLatency: optionalInt("--max-latency", 1, 600_000),
  maxMemory: optionalInt("--max-memory", 1, 100),
  maxReplicaLag: optionalInt("--max-replica-lag", 0, Number.MAX_SAFE_INTEGER),
  maxOps: optionalInt("--max-ops", 1, 100_000_000),
  maxPause: duration("--max-pause"),
  settleTimeout: duration("--settle-timeout"),
  restart: yesNo("--restart"),
};

export type RunOptions = z.infer<z.ZodObject<typeof runShape>>;

/** Every option of a SCAN run subcommand, on top of its own: connection, budget, run, --json. */
export function addRunCommandOptions(cmd: Command): Command {
  return addJsonOption(addRunOptions(addBudgetOption(addConnectionOptions(cmd))));
}

/** The shape of those options beside the connection's (see commandSchema). */
export const runCommandShape = { ...budgetShape, ...runShape, ...jsonShape };
