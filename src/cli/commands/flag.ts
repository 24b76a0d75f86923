import { Command, Option } from "commander";
import { z } from "zod";
import { ExitCode } from "../../errors.js";
import { actorOf, actorOption, actorShape } from "../actor.js";
import { withExitStatuses } from "../exitHelp.js";
import { CONNECTION_ENV, withEnvironment, withExamples } from "../helpFooter.js";
import {
  GATES,
  PHASES,
  readRollout,
  setFlag,
  unmetReasons,
  type Gate,
  type RolloutState,
} from "../../migration/rollout/rollout.js";
import { sleep } from "../../engine/time.js";
import {
  addConnectionOptions,
  addJsonOption,
  commandSchema,
  jsonShape,
} from "../options/connection.js";
import { addDeprecatedName } from "../options/deprecated.js";
import { duration, on, parseOptions, text } from "../options/fields.js";
import { addMetricsOptions, metricsShape } from "../options/metrics.js";
import { addBudgetOption, budgetShape } from "../options/run.js";
import { warn } from "../logFormat.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { renderRollout } from "../render/rolloutView.js";
import { openTarget, schemaOf } from "../runContext.js";
import { stopOnSignals } from "../signals.js";

const flagKey = z.string().min(1).optional();

const setSchema = commandSchema({
  ...jsonShape,
  ...actorShape,
  value: z.enum(["on", "off"], {
    error: (i) => `flag set takes on or off (got "${String(i.input)}")`,
  }),
  reason: text(),
  flagKey,
}).superRefine((o, ctx) => {
  if (o.flagKey === undefined)
    ctx.addIssue({
      code: "custom",
      message: "flag set needs --flag-key (or JOBS_MIGRATE_FLAG_KEY): the key where the flag lives",
    });
  else if (o.reason === undefined)
    ctx.addIssue({ code: "custom", message: 'flag set needs --reason "…" for the audit trail' });
});

const flagSchema = commandSchema({
  ...budgetShape,
  ...metricsShape,
  ...jsonShape,
  flagKey,
  count: on(),
  require: z.enum(GATES).optional(),
  maxVerifyAge: duration("--max-verify-age"),
  watch: on(),
});

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
  withExamples(withEnvironment(cmd, CONNECTION_ENV), [
    'jobs-migrate flag set on --flag-key ai:flags:AI_JOBS_NEW_SCHEMA --reason "canary passed, CHG-42"',
    'jobs-migrate flag set off --reason "rollback: divergence in ws-7" --actor oncall-alice',
  ]);
  addJsonOption(addConnectionOptions(cmd)).action(async (value: string, raw: object) => {
    const opts = parseOptions(setSchema, { ...raw, value });
    const key = opts.flagKey ?? "";
    const target = await openTarget(opts);
    try {
      const entry = await setFlag(target.client, key, opts.value, actorOf(opts), opts.reason ?? "");
      if (opts.json) writeJsonResult({ subcommand: "flag set", exitCode: 0, ...entry });
      else
        process.stdout.write(
          `flag ${key}: ${entry.previous ?? "unset"} -> ${opts.value} (audit entry by ${entry.who})\n`,
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
        "  verified             backfilled, and a clean verify of the whole keyspace finished after it, within --max-verify-age\n" +
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
      new Option("--max-verify-age <duration>", "how recent a verify must be to count").default(
        "24h",
      ),
    )
    .addOption(
      new Option("--watch", "refresh every 2 s (Ctrl-C to stop)").conflicts(["require", "json"]),
    )
    // Options after `set` belong to `set` (both commands take --redis-url and friends).
    .enablePositionalOptions()
    .addCommand(setCommand());
  addDeprecatedName(cmd, "--max-age <duration>", "--max-verify-age");
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.ProblemsFound, ExitCode.RedisUnavailable], {
    [ExitCode.Ok]: "shown (with --require: the gate is met)",
    [ExitCode.ProblemsFound]: "--require: the gate is not met (the reasons are listed)",
  });
  withExamples(withEnvironment(cmd, [...CONNECTION_ENV, "AI_JOBS_NEW_SCHEMA", "NO_COLOR"]), [
    "jobs-migrate flag --flag-key ai:flags:AI_JOBS_NEW_SCHEMA",
    "jobs-migrate flag --require ready-for-cleanup || exit 1     # a runbook's gate",
    "jobs-migrate flag --count --json                            # exact key counts (a full SCAN)",
    "jobs-migrate flag --watch",
  ]);
  addJsonOption(addMetricsOptions(addBudgetOption(addConnectionOptions(cmd)))).action(
    async (raw: object) => {
      const opts = parseOptions(flagSchema, raw);
      if (opts.metricsFile)
        await (await import("../../output/metrics.js")).checkTextfilePath(opts.metricsFile);
      const maxAgeMs = opts.maxVerifyAge;
      const gate: Gate | undefined = opts.require;
      const target = await openTarget(opts);
      const input = {
        schema: schemaOf(opts),
        statePrefix: opts.statePrefix,
        envFlag: process.env.AI_JOBS_NEW_SCHEMA,
        flagKey: opts.flagKey,
        exactCounts: opts.count,
        maxAgeMs,
      };
      try {
        if (opts.watch) {
          const stop = stopOnSignals(() => undefined);
          while (!stop.signal.aborted) {
            const state = await readRollout(target, input);
            await publishRollout(state, maxAgeMs, opts);
            const view = renderRollout(state, target.where, process.stdout);
            process.stdout.write(process.stdout.isTTY ? `\x1b[2J\x1b[H${view}` : `${view}\n`);
            await sleep(2000, stop.signal);
          }
          stop.dispose();
          return;
        }
        const state = await readRollout(target, input);
        await publishRollout(state, maxAgeMs, opts);
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
    },
  );
  return cmd;
}

/** flag --metrics-file / --pushgateway: the rollout state as gauges (a push failure warns). */
async function publishRollout(
  state: RolloutState,
  maxAgeMs: number,
  opts: { metricsFile?: string | undefined; pushgateway?: string | undefined },
): Promise<void> {
  if (!opts.metricsFile && !opts.pushgateway) return;
  const { buildRolloutMetrics } = await import("../../output/rolloutMetrics.js");
  const { pushToGateway, writeTextfile } = await import("../../output/metrics.js");
  const registry = buildRolloutMetrics({
    phase: state.phase,
    phases: PHASES,
    gates: Object.fromEntries(GATES.map((g) => [g, unmetReasons(g, state, maxAgeMs).length === 0])),
    keys: state.keys,
    flagOn: state.flag.on,
    flagDisagree: state.flag.disagree,
  });
  if (opts.metricsFile) await writeTextfile(registry, opts.metricsFile);
  if (opts.pushgateway)
    await pushToGateway(registry, opts.pushgateway, "jobs_migrate_flag").catch((err: unknown) =>
      warn(err instanceof Error ? err.message : String(err)),
    );
}
