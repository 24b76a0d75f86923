import { Option, type Command } from "commander";
import { z } from "zod";
import { UsageError } from "../errors.js";
import { DEFAULT_SCHEMA } from "../migration/shared/keySchema.js";
import { MASTER_NAME, parseHostList } from "../redis/redisUrl.js";

/** Connection and run options every subcommand shares; `.env` variables noted in README. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--redis-url <url>",
        "redis://[user:password@]host:port[/db], rediss://…, or redis+sentinel://[user:password@]host:port,…/<master>[/db]",
      ).env("REDIS_URL"),
    )
    .addOption(
      new Option(
        "--sentinel <host:port,…>",
        "Sentinels to ask for the master, instead of --redis-url/REDIS_URL (db 0; password: REDIS_PASSWORD)",
      ),
    )
    .addOption(
      new Option(
        "--sentinel-master <name>",
        "the master's name at the Sentinels (required with --sentinel); the Sentinels' own password: env REDIS_SENTINEL_PASSWORD",
      ),
    )
    .addOption(
      // An optional value, so that JOBS_MIGRATE_CLUSTER=false means false: commander
      // turns a plain boolean flag on whenever its variable exists, whatever it says.
      new Option("--cluster [yes|no]", "require a Redis Cluster (otherwise detected)")
        .env("JOBS_MIGRATE_CLUSTER")
        .preset("yes"),
    )
    .addOption(
      new Option("--tls-ca <file>", "CA certificate (PEM) for rediss://").env("REDIS_TLS_CA"),
    )
    .addOption(new Option("--tls-cert <file>", "client certificate (PEM)").env("REDIS_TLS_CERT"))
    .addOption(new Option("--tls-key <file>", "client private key (PEM)").env("REDIS_TLS_KEY"))
    .addOption(
      new Option("--tls-insecure [yes|no]", "do not verify the server certificate")
        .env("REDIS_TLS_INSECURE")
        .preset("yes"),
    )
    .addOption(
      new Option("--old-prefix <prefix>", "old key prefix")
        .env("JOBS_MIGRATE_OLD_PREFIX")
        .default(DEFAULT_SCHEMA.oldPrefix),
    )
    .addOption(
      new Option("--new-prefix <prefix>", "new key prefix")
        .env("JOBS_MIGRATE_NEW_PREFIX")
        .default(DEFAULT_SCHEMA.newPrefix),
    )
    .addOption(
      new Option("--state-prefix <prefix>", "prefix of the tool's own keys (checkpoints, locks)")
        .env("JOBS_MIGRATE_STATE_PREFIX")
        .default("jobs-migrate:"),
    )
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
      new Option("--sample-size <n>", "findings listed in the summary (all are counted)").default(
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
      new Option(
        "--max-command-ms <ms>",
        "longest a single command of ours may hold the server (a batch goes in short calls)",
      )
        .env("JOBS_MIGRATE_MAX_COMMAND_MS")
        .default("1"),
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
    .option("--restart", "discard the saved checkpoint and start from the beginning")
    .option("--json", "print the final result as JSON on stdout");
}

const int = (name: string, min: number, max: number) =>
  z.string().transform((s, ctx) => {
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: "custom",
        message: `${name} must be an integer from ${min} to ${max} (got "${s}")`,
      });
      return z.NEVER;
    }
    return n;
  });

const optionalInt = (name: string, min: number, max: number) => int(name, min, max).optional();

const prefix = (name: string) =>
  z
    .string()
    .min(1, `${name} must not be empty`)
    .refine((s) => !/[\s]/.test(s), `${name} must not contain spaces`);

const flag = (name: string) =>
  z
    .union([z.boolean(), z.string()])
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || typeof v === "boolean") return v === true;
      if (/^(1|true|yes|on)$/i.test(v)) return true;
      if (/^(0|false|no|off|)$/i.test(v)) return false;
      ctx.addIssue({ code: "custom", message: `${name} must be yes or no (got "${v}")` });
      return z.NEVER;
    });

export const commonSchema = z
  .object({
    redisUrl: z.string().optional(),
    sentinel: z
      .string()
      .optional()
      .transform((s, ctx) => {
        if (s === undefined) return undefined;
        try {
          return parseHostList(s);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: `--sentinel: ${(err as Error).message}` });
          return z.NEVER;
        }
      }),
    sentinelMaster: z
      .string()
      .optional()
      .refine(
        (s) => s === undefined || MASTER_NAME.test(s),
        '--sentinel-master must be letters, digits, ".", "-" or "_"',
      ),
    cluster: flag("--cluster"),
    tlsCa: z.string().optional(),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    tlsInsecure: flag("--tls-insecure"),
    oldPrefix: prefix("--old-prefix"),
    newPrefix: prefix("--new-prefix"),
    statePrefix: prefix("--state-prefix"),
    batchSize: int("--batch-size", 1, 10000),
    rate: int("--rate", 0, 10_000_000),
    lockTtl: int("--lock-ttl", 200, 3_600_000),
    sampleSize: int("--sample-size", 0, 10000),
    progressInterval: int("--progress-interval", 1, 86400),
    targetBatchMs: optionalInt("--target-batch-ms", 1, 600_000),
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
    maxLatency: optionalInt("--max-latency", 1, 600_000),
    maxMemory: optionalInt("--max-memory", 1, 100),
    maxReplicaLag: optionalInt("--max-replica-lag", 0, Number.MAX_SAFE_INTEGER),
    maxOps: optionalInt("--max-ops", 1, 100_000_000),
    maxPause: z.string(),
    settleTimeout: z.string(),
    restart: flag("--restart"),
    json: flag("--json"),
  })
  .superRefine((o, ctx) => {
    // Redis is named once: by --redis-url (or REDIS_URL), or by --sentinel with --sentinel-master.
    const where = whereProblem(o.redisUrl, o.sentinel !== undefined, o.sentinelMaster);
    if (where) ctx.addIssue({ code: "custom", message: where });
    const overlap = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);
    if (overlap(o.oldPrefix, o.newPrefix)) {
      ctx.addIssue({
        code: "custom",
        message: `--old-prefix "${o.oldPrefix}" and --new-prefix "${o.newPrefix}" overlap: a SCAN of one would walk the other`,
      });
    }
    for (const p of [o.oldPrefix, o.newPrefix]) {
      if (overlap(o.statePrefix, p)) {
        ctx.addIssue({
          code: "custom",
          message: `--state-prefix "${o.statePrefix}" overlaps the job prefix "${p}"`,
        });
      }
    }
  });

export type CommonOptions = z.infer<typeof commonSchema>;

/** The one rule for where Redis is; undefined when the options follow it. */
function whereProblem(
  redisUrl: string | undefined,
  sentinel: boolean,
  sentinelMaster: string | undefined,
): string | undefined {
  if (sentinel && sentinelMaster === undefined) return "--sentinel needs --sentinel-master <name>";
  if (!sentinel && sentinelMaster !== undefined)
    return "--sentinel-master needs --sentinel <host:port,…>";
  if (sentinel && redisUrl !== undefined) {
    const source = process.env.REDIS_URL === redisUrl ? "REDIS_URL" : "--redis-url";
    return `--sentinel and ${source} both say where Redis is: give one (redis+sentinel://… in ${source} names Sentinels too)`;
  }
  if (!sentinel && redisUrl === undefined)
    return "no Redis URL: pass --redis-url or set REDIS_URL (environment or .env), or --sentinel with --sentinel-master";
  return undefined;
}

/** Validate raw commander options with a schema; the first problem becomes a UsageError. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new UsageError(issue?.message ?? "invalid options");
}
