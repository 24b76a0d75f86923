import { RedisUnavailableError, UsageError } from "../errors.js";
import type { RedisEndpoint } from "./redisUrl.js";

export const AUTH_FAILED = /WRONGPASS|NOAUTH|invalid password|invalid username-password/i;

export function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

/** One line, no password, naming the endpoint and the cause. */
export function translateConnectError(
  err: unknown,
  where: string,
  endpoint?: RedisEndpoint,
): Error {
  if (err instanceof UsageError || err instanceof RedisUnavailableError) return err;
  let msg = err instanceof Error ? err.message : String(err);
  for (const secret of [endpoint?.password, endpoint?.sentinel?.password]) {
    if (secret) msg = msg.split(secret).join("***");
  }
  if (AUTH_FAILED.test(msg)) {
    return new RedisUnavailableError(
      `authentication failed at ${where}: check the user and password`,
    );
  }
  if (/NOPERM/i.test(msg)) {
    return new RedisUnavailableError(`permission denied at ${where}: ${msg}`);
  }
  return new RedisUnavailableError(`cannot reach Redis at ${where}: ${msg}`);
}
