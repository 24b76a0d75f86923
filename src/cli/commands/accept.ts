import { writeFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { z } from "zod";
import { ExitCode, LocalFailureError } from "../../errors.js";
import { fileFailureReason, isFileSystemError } from "../../fileFailure.js";
import {
  acceptFromLastVerify,
  clearAccepted,
  lastVerifyLeftovers,
  listAccepted,
} from "../../migration/rollout/accept.js";
import { actorOf, actorOption, actorShape } from "../actor.js";
import { withExitStatuses } from "../exitHelp.js";
import { CONNECTION_ENV, withEnvironment, withExamples } from "../helpFooter.js";
import {
  addConnectionOptions,
  addJsonOption,
  commandSchema,
  jsonShape,
} from "../options/connection.js";
import { on, parseOptions, text } from "../options/fields.js";
import { writeJsonResult } from "../render/jsonResult.js";
import { openTarget } from "../runContext.js";

const ACTIONS = ["fromLast", "list", "clear", "export"] as const;

const acceptSchema = commandSchema({
  ...jsonShape,
  ...actorShape,
  fromLast: z.literal("verify").optional(),
  list: on(),
  clear: on(),
  export: z.string().min(1).optional(),
  reason: text(),
}).superRefine((o, ctx) => {
  const chosen = ACTIONS.filter((a) => o[a] !== undefined && o[a] !== false);
  if (chosen.length !== 1)
    ctx.addIssue({
      code: "custom",
      message: "accept takes one of --from-last verify, --list, --clear or --export <file>",
    });
  else if ((o.fromLast || o.clear) && o.reason === undefined)
    ctx.addIssue({ code: "custom", message: 'accept needs --reason "…" for the audit trail' });
});

export function acceptCommand(): Command {
  const cmd = new Command("accept")
    .summary("accept the current unmigratable and foreign keys as known leftovers (a baseline)")
    .description(
      "Record the exact set of unmigratable old keys and foreign new keys that the last complete verify of\n" +
        "the whole keyspace found, as accepted: who, when, why, and a digest of the set, in an audit trail.\n" +
        "Accepted keys still show in every summary and report, marked (accepted), but no longer fail verify's\n" +
        "exit status, backfill's or the flag gates; any key not in the set (a new problem) fails them again.",
    )
    .addOption(
      new Option(
        "--from-last <subcommand>",
        "accept the leftovers of the last complete run of",
      ).choices(["verify"]),
    )
    .addOption(new Option("--list", "show the accepted set, its record and the audit trail"))
    .addOption(new Option("--clear", "forget the accepted set (with --reason)"))
    .addOption(
      new Option("--export <file>", "write every leftover of the last verify as JSON lines"),
    )
    .addOption(new Option("--reason <text>", "why (kept in the audit trail)"))
    .addOption(actorOption());
  withExitStatuses(cmd, [ExitCode.Ok, ExitCode.RedisUnavailable, ExitCode.LocalFailure], {
    [ExitCode.Ok]: "done (the set accepted, listed, cleared or exported)",
    [ExitCode.LocalFailure]: "--export could not write its file (the message names it)",
  });
  withExamples(withEnvironment(cmd, CONNECTION_ENV), [
    'jobs-migrate accept --from-last verify --reason "legacy jobs without workspace, JIRA-123"',
    "jobs-migrate accept --list",
    "jobs-migrate accept --export leftovers.jsonl     # every leftover, for whoever fixes the data",
    'jobs-migrate accept --clear --reason "data fixed"',
  ]);
  addJsonOption(addConnectionOptions(cmd)).action(async (raw: object) => {
    const opts = parseOptions(acceptSchema, raw);
    const reason = opts.reason ?? "";
    const target = await openTarget(opts);
    const client = target.client;
    const who = actorOf(opts);
    try {
      if (opts.fromLast) {
        const meta = await acceptFromLastVerify(client, opts.statePrefix, who, reason);
        if (opts.json) writeJsonResult({ subcommand: "accept", exitCode: 0, ...meta });
        else
          process.stdout.write(
            `accepted ${meta.count} leftover(s) of verify run ${meta.fromRun} (${meta.unmigratable} unmigratable old keys, ${meta.foreign} foreign new keys), ${meta.digest}; audit entry by ${meta.who}\n`,
          );
      } else if (opts.clear) {
        const { cleared } = await clearAccepted(client, opts.statePrefix, who, reason);
        if (opts.json) writeJsonResult({ subcommand: "accept --clear", exitCode: 0, cleared, who });
        else
          process.stdout.write(
            `cleared the accepted set (${cleared} leftover(s)); audit entry by ${who}\n`,
          );
      } else if (opts.list) {
        const l = await listAccepted(client, opts.statePrefix);
        if (opts.json) writeJsonResult({ subcommand: "accept --list", exitCode: 0, ...l });
        else process.stdout.write(renderList(l));
      } else {
        const file = opts.export ?? "";
        const last = await lastVerifyLeftovers(client, opts.statePrefix);
        const lines = last.leftovers.map(
          (l) =>
            `${JSON.stringify({ ...l, accepted: last.accepted.has(`${l.kind} ${l.reason} ${l.key}`) })}\n`,
        );
        try {
          await writeFile(file, lines.join(""));
        } catch (err) {
          if (!isFileSystemError(err)) throw err;
          throw new LocalFailureError(`--export ${file}: ${fileFailureReason(err)}`);
        }
        if (opts.json)
          writeJsonResult({
            subcommand: "accept --export",
            exitCode: 0,
            file,
            count: lines.length,
          });
        else
          process.stdout.write(
            `wrote ${lines.length} leftover(s) of verify run ${last.runId} to ${file}\n`,
          );
      }
    } finally {
      await target.close();
    }
  });
  return cmd;
}

function renderList(l: Awaited<ReturnType<typeof listAccepted>>): string {
  if (!l.meta) return "no leftovers are accepted\n";
  const m = l.meta;
  const lines = [
    `accepted ${m.count} leftover(s) (${m.unmigratable} unmigratable old keys, ${m.foreign} foreign new keys) of verify run ${m.fromRun}`,
    `  by ${m.who} at ${m.at}: ${m.reason}`,
    `  ${m.digest}`,
    ...l.accepted.map((a) => `  ${a.kind.padEnd(12)} ${a.reason.padEnd(26)} ${a.key}`),
  ];
  return `${lines.join("\n")}\n`;
}
