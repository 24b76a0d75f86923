import { Command, Option } from "commander";
import { ExitCode, UsageError } from "../../errors.js";
import { actorOf, actorOption } from "../actor.js";
import { withExitStatuses } from "../exitHelp.js";
import {
  GATES,
  readRollout,
  setFlag,
  unmetReasons,
  type Gate,
} from "../../migration/rollout/rollout.js";
import { sleep } from "../../engine/time.js";
import { addCommonOptions, commonSchema, parseOptions } from "../options.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { renderRollout } from "../render/rolloutView.js";
import { openTarget, schemaOf } from "../runContext.js";
import { parseDuration } from "../duration.js";
import { stopOnSignals } from "../signals.js";

function setCommand(): Command {
  const cmd = new Command("set")
    .summary("switch the flag kept in Redis, with an audit entry")
    .argument("<value>", "on or off")
    .addOption(new Option("--reason <text>", "why (kept in the audit trail)"))
    .addOption(actorOption())
    .addOption(
      new Option("--flag-key <key>", "the Redis key where the team keeps AI_JOBS_NEW_SCHEMA").env(
        "JOBS_MIGRATE_FLAG_KEY",
      ),
    );
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.RedisUnavailable], {
    [ExitCode.Ok]: "the flag was set and the audit entry written",
  });
  addCommonOptions(cmd).action(async (value: string, raw: Record<string, unknown>) => {
    const opts = parseOptions(commonSchema, raw);
    if (value !== "on" && value !== "off")
      throw new UsageError(`flag set takes on or off (got "${value}")`);
    if (typeof raw.flagKey !== "string")
      throw new UsageError(
        "flag set needs --flag-key (or JOBS_MIGRATE_FLAG_KEY): the key where the flag lives",
      );
    if (typeof raw.reason !== "string" || raw.reason.trim() === "")
      throw new UsageError('flag set needs --reason "…" for the audit trail');
    const target = await openTarget(opts);
    try {
      const entry = await setFlag(target.client, raw.flagKey, value, actorOf(raw), raw.reason);
      if (opts.json) writeJsonResult({ subcommand: "flag set", exitCode: 0, ...entry });
      else
        process.stdout.write(
          `flag ${raw.flagKey}: ${entry.previous ?? "unset"} -> ${value} (audit entry by ${entry.who})\n`,
        );
    } finally {
      await target.close();
    }
  });
  return cmd;
}

export function flagCommand(): Command {
  const cmd = new Command("flag")
    .summary("rollout state at a glance, and gates for runbooks (--require)")
    .description(
      "Show the flag (environment and Redis), the phase the data shows, each subcommand's last and current\n" +
        "run, key counts, and the next step with whether it is safe. --require <gate> exits 0 when the gate is\n" +
        "met and 1 with the reasons otherwise; the next step is called safe exactly when the gate it needs is met.\n\n" +
        "Gates:\n" +
        "  backfilled           a backfill completed; no unstable key; no unmigratable key outside the accepted set\n" +
        "                       (`jobs-migrate accept`), judged by the last full verify when one ran since\n" +
        "  verified             backfilled, and a clean verify of the whole keyspace finished after it, within --max-age\n" +
        "  ready-for-read-flip  verified; no run in progress or dead; the flag agrees; no partial old hash\n" +
        "  ready-for-cleanup    a recent clean verify; no run in progress or dead; the flag on and agreeing;\n" +
        "                       no partial old hash (old-schema writes are off)\n" +
        "  done                 cleanup finished; only accepted unmigratable old keys are left",
    )
    .addOption(
      new Option("--flag-key <key>", "the Redis key where the team keeps AI_JOBS_NEW_SCHEMA").env(
        "JOBS_MIGRATE_FLAG_KEY",
      ),
    )
    .option("--count", "count keys exactly (a full SCAN) instead of estimating")
    .addOption(
      new Option("--require <gate>", "exit 0 if the gate is met, 1 otherwise").choices(GATES),
    )
    .addOption(
      new Option("--max-age <duration>", "how recent a verify must be to count").default("24h"),
    )
    .option("--watch", "refresh every 2 s (Ctrl-C to stop)")
    // Options after `set` belong to `set` (both commands take --redis-url and friends).
    .enablePositionalOptions()
    .addCommand(setCommand());
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.ProblemsFound, ExitCode.RedisUnavailable], {
    [ExitCode.Ok]: "shown (with --require: the gate is met)",
    [ExitCode.ProblemsFound]: "--require: the gate is not met (the reasons are listed)",
  });
  addCommonOptions(cmd).action(async (raw: Record<string, unknown>) => {
    const opts = parseOptions(commonSchema, raw);
    const maxAgeMs = parseDuration("--max-age", String(raw.maxAge));
    const gate = raw.require as Gate | undefined;
    if (raw.watch && (gate || opts.json))
      throw new UsageError("--watch cannot be combined with --require or --json");
    const target = await openTarget(opts);
    const input = {
      schema: schemaOf(opts),
      statePrefix: opts.statePrefix,
      envFlag: process.env.AI_JOBS_NEW_SCHEMA,
      flagKey: raw.flagKey as string | undefined,
      exactCounts: Boolean(raw.count),
      maxAgeMs,
    };
    try {
      if (raw.watch) {
        const stop = stopOnSignals(() => undefined);
        while (!stop.signal.aborted) {
          const view = renderRollout(
            await readRollout(target, input),
            target.where,
            process.stdout,
          );
          process.stdout.write(process.stdout.isTTY ? `\x1b[2J\x1b[H${view}` : `${view}\n`);
          await sleep(2000, stop.signal);
        }
        stop.dispose();
        return;
      }
      const state = await readRollout(target, input);
      const unmet = gate ? unmetReasons(gate, state, maxAgeMs) : [];
      const exitCode = unmet.length ? ExitCode.ProblemsFound : ExitCode.Ok;
      if (opts.json)
        writeJsonResult({
          subcommand: "flag",
          redis: target.where,
          exitCode,
          ...state,
          gate: gate ? { name: gate, met: unmet.length === 0, unmet } : undefined,
        });
      else {
        process.stdout.write(renderRollout(state, target.where, process.stdout));
        if (gate)
          process.stdout.write(
            unmet.length
              ? `gate ${gate}: NOT met\n${unmet.map((u) => `  - ${u}\n`).join("")}`
              : `gate ${gate}: met\n`,
          );
      }
      process.exitCode = exitCode;
    } finally {
      await target.close();
    }
  });
  return cmd;
}
