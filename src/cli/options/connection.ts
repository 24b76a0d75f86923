/**
 * Where Redis is and which keys are ours: the options every subcommand takes (each of
 * them connects, and reads or writes under the prefixes), and `--json`.
 */
import { Option, type Command } from "commander";
import { z } from "zod";
import { DEFAULT_SCHEMA } from "../../migration/shared/keySchema.js";
import { MASTER_NAME, parseHostList } from "../../redis/redisUrl.js";
import { LOG_FORMATS } from "../logFormat.js";
import { prefix, yesNo } from "./fields.js";

export function addConnectionOptions(cmd: Command): Command {
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
      new Option("--log-format <format>", "stderr lines as text, or one JSON object per line")
        .choices(LOG_FORMATS)
        .env("JOBS_MIGRATE_LOG_FORMAT")
        .default("text"),
    );
}

export function addJsonOption(cmd: Command): Command {
  return cmd.option("--json", "print the final result as JSON on stdout");
}

export const connectionShape = {
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
  cluster: yesNo("--cluster"),
  tlsCa: z.string().optional(),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  tlsInsecure: yesNo("--tls-insecure"),
  oldPrefix: prefix("--old-prefix"),
  newPrefix: prefix("--new-prefix"),
  statePrefix: prefix("--state-prefix"),
  logFormat: z.enum(LOG_FORMATS),
};

export const jsonShape = { json: yesNo("--json") };

export type ConnectionOptions = z.infer<z.ZodObject<typeof connectionShape>>;

/**
 * A subcommand's schema: the connection options, its own `shape`, and the rules that
 * span options (where Redis is; prefixes that do not overlap).
 */
export function commandSchema<S extends z.ZodRawShape>(shape: S) {
  return z.object({ ...connectionShape, ...shape }).superRefine((o, ctx) => {
    // The connection fields are parsed by now (the object refines after its fields).
    for (const message of connectionProblems(o as ConnectionOptions))
      ctx.addIssue({ code: "custom", message });
  });
}

function connectionProblems(o: ConnectionOptions): string[] {
  const problems: string[] = [];
  // Redis is named once: by --redis-url (or REDIS_URL), or by --sentinel with --sentinel-master.
  const where = whereProblem(o.redisUrl, o.sentinel !== undefined, o.sentinelMaster);
  if (where) problems.push(where);
  const overlap = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);
  if (overlap(o.oldPrefix, o.newPrefix))
    problems.push(
      `--old-prefix "${o.oldPrefix}" and --new-prefix "${o.newPrefix}" overlap: a SCAN of one would walk the other`,
    );
  for (const p of [o.oldPrefix, o.newPrefix])
    if (overlap(o.statePrefix, p))
      problems.push(`--state-prefix "${o.statePrefix}" overlaps the job prefix "${p}"`);
  return problems;
}

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
