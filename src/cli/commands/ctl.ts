import { hostname } from "node:os";
import { Command, Option } from "commander";
import { ExitCode, UsageError } from "../../errors.js";
import { withExitStatuses } from "../exitHelp.js";
import { CONNECTION_ENV, withEnvironment, withExamples } from "../helpFooter.js";
import { writeControl } from "../../engine/runControl.js";
import { stateKeys } from "../../engine/stateKeys.js";
import { findLocks } from "../../engine/lockList.js";
import { z } from "zod";
import { addConnectionOptions, commandSchema } from "../options/connection.js";
import { parseOptions } from "../options/fields.js";
import { openTarget } from "../runContext.js";

const SETTABLE: Record<string, { field: string; min: number; max: number }> = {
  rate: { field: "rate", min: 0, max: 10_000_000 },
  batch: { field: "batchSize", min: 1, max: 10_000 },
};

/** `rate=5000 batch=200` → control hash fields, validated. */
export function parseSettings(pairs: string[]): Record<string, string> {
  if (pairs.length === 0)
    throw new UsageError("ctl set needs at least one of rate=<keys/s>, batch=<keys>");
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const m = /^(\w+)=(\d+)$/.exec(p);
    const spec = m ? SETTABLE[m[1]!] : undefined;
    if (!m || !spec) throw new UsageError(`ctl set: "${p}" is not rate=<n> or batch=<n>`);
    const n = Number(m[2]);
    if (n < spec.min || n > spec.max)
      throw new UsageError(`ctl set: ${m[1]} must be from ${spec.min} to ${spec.max}`);
    out[spec.field] = String(n);
  }
  return out;
}

const ctlSchema = commandSchema({ run: z.string().min(1).optional() });

export function ctlCommand(): Command {
  const cmd = new Command("ctl")
    .summary("pause, resume or re-tune running runs, from any host")
    .description(
      "Write a run's control key; the running process picks the change up before its next batch and logs it.\n" +
        "Without --run, every run that holds a lock now (under the state prefix) is addressed.",
    )
    .argument("<action>", "pause, resume or set")
    .argument("[settings...]", "with set: rate=<keys/s> and/or batch=<keys>")
    .addOption(
      new Option(
        "--run <scope>",
        "the run to address: backfill, verify, cleanup, backfill-reverse, verify:<scope>…",
      ),
    );
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.RedisUnavailable], {
    [ExitCode.Ok]: "the change was written to each run's control key",
  });
  withExamples(withEnvironment(cmd, CONNECTION_ENV), [
    "jobs-migrate ctl pause --run backfill",
    "jobs-migrate ctl resume",
    "jobs-migrate ctl set rate=5000 batch=200",
  ]);
  addConnectionOptions(cmd).action(async (action: string, settings: string[], raw: object) => {
    const opts = parseOptions(ctlSchema, raw);
    let change: Record<string, string>;
    if (action === "pause") change = { paused: "1" };
    else if (action === "resume") change = { paused: "0" };
    else if (action === "set") change = parseSettings(settings);
    else throw new UsageError(`ctl: unknown action "${action}" (pause, resume or set)`);
    if (action !== "set" && settings.length)
      throw new UsageError(`ctl ${action} takes no settings`);
    const target = await openTarget(opts);
    try {
      const scopes =
        opts.run !== undefined
          ? [opts.run]
          : (await findLocks(target, opts.statePrefix)).map((l) => l.scope);
      if (scopes.length === 0)
        throw new UsageError("ctl: no run holds a lock now; name one with --run");
      const by = `${process.env.USER ?? "unknown"}@${hostname()}`;
      for (const scope of scopes) {
        await writeControl(target.client, stateKeys(opts.statePrefix, scope).control, {
          ...change,
          by,
        });
        process.stdout.write(
          `ctl ${action}${settings.length ? ` ${settings.join(" ")}` : ""}: sent to ${scope}\n`,
        );
      }
    } finally {
      await target.close();
    }
  });
  return cmd;
}
