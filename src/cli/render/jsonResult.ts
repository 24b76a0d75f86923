/** Print a machine-readable result on stdout, with this process's own resource figures. */
export function writeJsonResult(result: Record<string, unknown>): void {
  const usage = process.resourceUsage();
  const stats = {
    peakRssBytes: usage.maxRSS * 1024,
    cpuUserMs: Math.round(usage.userCPUTime / 1000),
  };
  process.stdout.write(`${JSON.stringify({ ...result, stats })}\n`);
}

/** With --json, errors are JSON on stdout too (and one line on stderr). */
export function writeJsonError(message: string, exitCode: number): void {
  process.stdout.write(`${JSON.stringify({ error: { message, exitCode } })}\n`);
}
