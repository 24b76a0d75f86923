import { Option, type Command } from "commander";
import { z } from "zod";
import { isValidWorkspaceId } from "../../migration/shared/keySchema.js";
import type { ConnectionOptions } from "./connection.js";
import { int } from "./fields.js";
import type { RunOptions } from "./run.js";

/** verify's own options, beside those of every SCAN run (run.ts). */
export function addVerifyOptions(cmd: Command): Command {
  return cmd
    .option("--no-orphans", "skip the second pass over the new prefix (orphan new keys)")
    .addOption(new Option("--workspace <ids>", "only these workspaces, comma-separated (canary)"))
    .addOption(
      new Option(
        "--sample <n>",
        "a fraction (0.01, 5%) or a count (1000) of pairs, spread over the keyspace",
      ),
    )
    .addOption(
      new Option(
        "--recheck-rounds <n>",
        "re-reads of a divergent pair before it is confirmed",
      ).default("3"),
    )
    .addOption(new Option("--recheck-delay <ms>", "delay before each re-read").default("250"))
    .addOption(
      new Option("--ttl-tolerance <ms>", "remaining TTLs further apart than this differ").default(
        "5000",
      ),
    )
    .option(
      "--repair",
      "re-copy confirmed divergent pairs from the old key (race-safe, as backfill)",
    )
    .option("--dry-run", "with --repair: print the planned writes, write nothing")
    .addOption(new Option("--report <file>", "write every divergence as JSON lines to this file"))
    .addOption(
      new Option(
        "--read-from <where>",
        "master, or replicas: read pairs on caught-up replicas first",
      )
        .choices(["master", "replicas"])
        .default("master"),
    )
    .option("--follow", "run until stopped, checking each pair the application writes (see README)")
    .addOption(
      new Option(
        "--settle <duration>",
        "with --follow: check a pair once quiet this long (default 2s)",
      ),
    )
    .addOption(
      new Option(
        "--for <duration>",
        "with --follow: stop after this long (e.g. 30m), then exit 0 or 1",
      ),
    )
    .option(
      "--enable-notifications",
      "with --follow: turn keyspace notifications on where off (CONFIG SET, restored on exit)",
    )
    .addOption(
      new Option(
        "--max-pending <n>",
        "with --follow: touched pairs waiting at most (default 100000)",
      ),
    );
}

const sample = z
  .string()
  .optional()
  .transform((s, ctx) => {
    if (s === undefined) return undefined;
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
    const n = pct ? Number(pct[1]) / 100 : Number(s);
    const fraction = /^(0?\.\d+|1(\.0+)?)$/.test(s) || pct;
    if (fraction && n > 0 && n <= 1) return n;
    if (/^\d+$/.test(s) && n >= 2) return n;
    ctx.addIssue({
      code: "custom",
      message: `--sample must be a fraction (0 < f <= 1, or 1-100%) or a count >= 2 (got "${s}")`,
    });
    return z.NEVER;
  });

const workspaces = z
  .string()
  .optional()
  .transform((s, ctx) => {
    if (s === undefined) return undefined;
    const list = [...new Set(s.split(",").map((w) => w.trim()))];
    const bad = list.find((w) => !isValidWorkspaceId(Buffer.from(w)));
    if (bad !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: `--workspace: "${bad}" is not a valid workspace id (^[a-z0-9][a-z0-9_-]{0,31}$)`,
      });
      return z.NEVER;
    }
    return list;
  });

export const verifyShape = {
  orphans: z.boolean().default(true),
  workspace: workspaces,
  sample,
  recheckRounds: int("--recheck-rounds", 0, 20),
  recheckDelay: int("--recheck-delay", 0, 60_000),
  ttlTolerance: int("--ttl-tolerance", 0, 86_400_000),
  repair: z.boolean().optional(),
  dryRun: z.boolean().optional(),
  report: z.string().min(1).optional(),
  readFrom: z.enum(["master", "replicas"]),
  follow: z.boolean().optional(),
  settle: z.string().optional(),
  for: z.string().optional(),
  enableNotifications: z.boolean().optional(),
  maxPending: int("--max-pending", 100, 10_000_000).optional(),
};

/** verify's rules that span its own options. */
export const verifyProblem = (o: { dryRun?: boolean; repair?: boolean }) =>
  o.dryRun && !o.repair ? "--dry-run only applies to --repair" : undefined;

/** verify's options once parsed (what verify.ts's schema gives; follow reads them too). */
export type VerifyCliOptions = ConnectionOptions &
  RunOptions &
  z.infer<z.ZodObject<typeof verifyShape>> & {
    json: boolean;
    maxCommandMs: number;
    metricsFile?: string | undefined;
    pushgateway?: string | undefined;
  };
