import { hostname, userInfo } from "node:os";
import { Option } from "commander";
import { text } from "./options/fields.js";

/** The --actor option (env JOBS_MIGRATE_ACTOR) of commands that write an audit entry. */
export const actorOption = () =>
  new Option("--actor <name>", "who, for the audit trail (default: the OS user@host)").env(
    "JOBS_MIGRATE_ACTOR",
  );

export const actorShape = { actor: text() };

/**
 * Who an audit entry names: --actor / JOBS_MIGRATE_ACTOR, else the OS user (user@host),
 * else the host alone (a container whose uid has no name and no USER: not "unknown@pod").
 */
export function actorOf(opts: { actor?: string | undefined }): string {
  if (opts.actor !== undefined) return opts.actor;
  const user = osUser();
  return user ? `${user}@${hostname()}` : hostname();
}

function osUser(): string | undefined {
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // A uid without a passwd entry (common in containers).
  }
  return process.env.USER || process.env.LOGNAME || undefined;
}
