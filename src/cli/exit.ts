import { CommanderError } from "commander";
import { ExitCode, LocalFailureError, MigrateError, RedisUnavailableError } from "../errors.js";
import { fileFailureReason, isFileSystemError } from "../fileFailure.js";
import { describeRedisFailure } from "../redis/redisFailure.js";
import { endpointInUse } from "./endpointInUse.js";
import { scrub } from "./secrets.js";

/** Exit status for an internal error (a bug): EX_SOFTWARE, distinct from every documented code. */
export const INTERNAL_ERROR = ExitCode.Internal;

/**
 * What a thrown value means to the user, decided here once for every subcommand: a raw
 * Redis failure (a lost connection, a server that cannot serve) becomes a
 * RedisUnavailableError naming the endpoint (exit 3); a raw file-system error a
 * LocalFailureError naming the file (exit 6); a RedisUnavailableError that does not say
 * where gets the endpoint. Anything else is returned as it is: a bug stays a bug (70).
 */
export function toUserError(err: unknown, endpoint = endpointInUse()): unknown {
  if (err instanceof RedisUnavailableError) {
    if (!endpoint || mentionsEndpoint(err.message, endpoint)) return err;
    return new RedisUnavailableError(`${firstLine(err.message)} (Redis at ${endpoint})`, {
      cause: err,
    });
  }
  if (err instanceof MigrateError || err instanceof CommanderError) return err;
  const redis = describeRedisFailure(err, endpoint ?? "the configured endpoint");
  if (redis !== undefined) return new RedisUnavailableError(redis, { cause: err });
  if (isFileSystemError(err)) {
    const verb = err.syscall === "open" ? "open" : err.syscall === "read" ? "read" : "write";
    return new LocalFailureError(`cannot ${verb} ${err.path}: ${fileFailureReason(err)}`, {
      cause: err,
    });
  }
  return err;
}

/** Does a message name the endpoint (any of its host:port, for a list of Sentinels)? */
function mentionsEndpoint(message: string, endpoint: string): boolean {
  const hosts = /^[a-z+]+:\/\/(?:[^@/]*@)?([^/]+)/.exec(endpoint)?.[1] ?? endpoint;
  return message.includes(endpoint) || hosts.split(",").some((h) => message.includes(h));
}

function firstLine(s: string): string {
  return s.split("\n")[0]!;
}

/** Map any error to its exit status (DESIGN §4). */
export function exitCodeFor(err: unknown): number {
  const e = toUserError(err);
  if (e instanceof MigrateError) return e.exitCode;
  if (e instanceof CommanderError) return e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  return INTERNAL_ERROR;
}

/**
 * The one line printed for an error: no stack trace, and every known secret replaced,
 * whatever the message came from.
 */
export function errorLine(err: unknown, secrets: readonly string[]): string {
  const e = toUserError(err);
  let msg: string;
  if (e instanceof MigrateError) msg = e.message;
  else if (e instanceof CommanderError) msg = e.message.replace(/^error: /, "");
  else msg = `internal error (please report): ${e instanceof Error ? e.message : String(e)}`;
  return `jobs-migrate: ${firstLine(scrub(msg, secrets))}`;
}
