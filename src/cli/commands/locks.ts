import { Command, Option } from "commander";
import { ExitCode, LockHeldError, UsageError } from "../../errors.js";
import { withExitStatuses } from "../exitHelp.js";
import { CONNECTION_ENV, withEnvironment, withExamples } from "../helpFooter.js";
import { findLocks, holderState, whyHolderAlive } from "../../engine/lockList.js";
import { describeOwner } from "../../engine/runLock.js";
import { z } from "zod";
import {
  addConnectionOptions,
  addJsonOption,
  commandSchema,
  jsonShape,
} from "../options/connection.js";
import { on, parseOptions } from "../options/fields.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { formatDuration } from "../render/style.js";
import { openTarget } from "../runContext.js";

const releaseSchema = commandSchema({ run: z.string().min(1).optional(), force: on() }).superRefine(
  (o, ctx) => {
    if (!o.force)
      ctx.addIssue({
        code: "custom",
        message: "locks release needs --force (it frees another process's lock)",
      });
    else if (o.run === undefined)
      ctx.addIssue({ code: "custom", message: "locks release needs --run <scope>" });
  },
);

function releaseCommand(): Command {
  const cmd = new Command("release")
    .summary("free a stale lock, after checking its heartbeat is dead")
    .addOption(new Option("--run <scope>", "the run whose lock to free (see `jobs-migrate locks`)"))
    .option("--force", "required: this frees another process's lock");
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.RedisUnavailable, ExitCode.LockHeld], {
    [ExitCode.Ok]: "released (or already gone)",
    [ExitCode.LockHeld]: "refused: the holder is alive (its process, or its heartbeat)",
  });
  withExamples(withEnvironment(cmd, CONNECTION_ENV), [
    "jobs-migrate locks release --force --run backfill",
    "jobs-migrate locks release --force --run verify:workspaces=ws-1",
  ]);
  addConnectionOptions(cmd).action(async (raw: object) => {
    const opts = parseOptions(releaseSchema, raw);
    const run = opts.run ?? "";
    const target = await openTarget(opts);
    try {
      const lock = (await findLocks(target, opts.statePrefix)).find((l) => l.scope === run);
      if (!lock) throw new UsageError(`no lock is held for ${run}`);
      const owner = lock.owner;
      const value = await target.client.get(lock.key);
      const alive = await whyHolderAlive(target, lock);
      if (alive) throw new LockHeldError(`refusing: ${alive}`);
      const released = value ? await target.client.releaseLock(lock.key, value) : 0;
      process.stdout.write(
        released
          ? `released the lock of ${run}${owner ? ` (${describeOwner(owner)})` : ""}\n`
          : `the lock of ${run} was already gone\n`,
      );
    } finally {
      await target.close();
    }
  });
  return cmd;
}

export function locksCommand(): Command {
  const cmd = new Command("locks")
    .summary("list run locks with owners and ages; `locks release --force` frees a stale one")
    .enablePositionalOptions()
    .addCommand(releaseCommand());
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.RedisUnavailable], {
    [ExitCode.Ok]: "listed (no lock held is no error)",
  });
  withExamples(withEnvironment(cmd, CONNECTION_ENV), [
    "jobs-migrate locks",
    "jobs-migrate locks --json",
    "jobs-migrate locks release --force --run backfill          # after checking it is dead",
  ]);
  addJsonOption(addConnectionOptions(cmd)).action(async (raw: object) => {
    const opts = parseOptions(commandSchema(jsonShape), raw);
    const target = await openTarget(opts);
    try {
      const locks = await findLocks(target, opts.statePrefix);
      const rows = locks.map((l) => {
        const age = l.owner ? (Date.now() - Date.parse(l.owner.since)) / 1000 : Number.NaN;
        return { ...l, ageSeconds: Math.round(age), state: holderState(l.owner) };
      });
      if (opts.json) writeJsonResult({ subcommand: "locks", exitCode: 0, locks: rows });
      else if (rows.length === 0) process.stdout.write("no locks held\n");
      else
        for (const r of rows)
          process.stdout.write(
            `${r.scope.padEnd(24)} ${r.owner ? describeOwner(r.owner) : "(unreadable owner)"}, age ${formatDuration(r.ageSeconds)}, expires in ${formatDuration(r.ttlMs / 1000)}, ${r.state}\n`,
          );
    } finally {
      await target.close();
    }
  });
  return cmd;
}
