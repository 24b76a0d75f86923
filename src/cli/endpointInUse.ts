/**
 * The Redis endpoint (redacted) the running subcommand opened. Errors raised deep inside a
 * command (ioredis: "Connection is closed.") do not say where; the one place that turns
 * errors into lines (exit.ts) names it from here.
 */
let endpoint: string | undefined;

export function noteEndpoint(where: string): void {
  endpoint = where;
}

export function endpointInUse(): string | undefined {
  return endpoint;
}
