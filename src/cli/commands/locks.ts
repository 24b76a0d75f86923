import { Command, Option } from "commander";
import { ExitCode, LockHeldError, UsageError } from "../../errors.js";
import { withExitStatuses } from "../exitHelp.js";
import { findLocks, holderState, whyHolderAlive } from "../../engine/lockList.js";
import { describeOwner } from "../../engine/runLock.js";
import { addCommonOptions, commonSchema, parseOptions } from "../options.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { formatDuration } from "../render/style.js";
import { openTarget } from "../runContext.js";

function releaseCommand(): Command {
  const cmd = new Command("release")
    .summary("free a stale lock, after checking its heartbeat is dead")
    .addOption(new Option("--run <scope>", "the run whose lock to free (see `jobs-migrate locks`)"))
    .option("--force", "required: this frees another process's lock");
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.RedisUnavailable, ExitCode.LockHeld], {
    [ExitCode.Ok]: "released (or already gone)",
    [ExitCode.LockHeld]: "refused: the holder is alive (its process, or its heartbeat)",
  });
  addCommonOptions(cmd).action(async (raw: Record<string, unknown>) => {
    const opts = parseOptions(commonSchema, raw);
    if (!raw.force)
      throw new UsageError("locks release needs --force (it frees another process's lock)");
    if (typeof raw.run !== "string") throw new UsageError("locks release needs --run <scope>");
    const target = await openTarget(opts);
    try {
      const lock = (await findLocks(target, opts.statePrefix)).find((l) => l.scope === raw.run);
      if (!lock) throw new UsageError(`no lock is held for ${raw.run}`);
      const owner = lock.owner;
      const value = await target.client.get(lock.key);
      const alive = await whyHolderAlive(target, lock);
      if (alive) throw new LockHeldError(`refusing: ${alive}`);
      const released = value ? await target.client.releaseLock(lock.key, value) : 0;
      process.stdout.write(
        released
          ? `released the lock of ${raw.run}${owner ? ` (${describeOwner(owner)})` : ""}\n`
          : `the lock of ${raw.run} was already gone\n`,
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
  addCommonOptions(cmd).action(async (raw: Record<string, unknown>) => {
    const opts = parseOptions(commonSchema, raw);
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
