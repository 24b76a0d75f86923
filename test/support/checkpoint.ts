import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { RedisClient } from "./targets.js";

/** Keys handled so far according to a run's checkpoint in Redis (all nodes summed). */
export async function checkpointProgress(
  redis: RedisClient,
  checkpointKey: string,
): Promise<{ status?: string; scanned: number }> {
  const h = await redis.hgetall(checkpointKey);
  let scanned = 0;
  for (const [f, v] of Object.entries(h)) {
    if (f.startsWith("node:"))
      scanned += (JSON.parse(v) as { counts: { scanned?: number } }).counts.scanned ?? 0;
  }
  return { status: h.status, scanned };
}

/** Poll until `check` holds, or fail after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * kill -9 a running CLI once its checkpoint shows `minScanned` keys done, and return what
 * the checkpoint then says (still "running": nothing got to mark it otherwise).
 */
export async function killMidRun(
  redis: RedisClient,
  run: { child: ChildProcess; done: Promise<{ signal: NodeJS.Signals | null }> },
  checkpointKey: string,
  minScanned: number,
): Promise<{ status?: string; scanned: number }> {
  await waitFor(
    `${minScanned} keys checkpointed`,
    async () => (await checkpointProgress(redis, checkpointKey)).scanned >= minScanned,
  );
  run.child.kill("SIGKILL");
  const { signal } = await run.done;
  if (signal !== "SIGKILL") throw new Error(`the run ended before it was killed (${signal})`);
  const saved = await checkpointProgress(redis, checkpointKey);
  if (saved.status !== "running") throw new Error(`checkpoint status ${saved.status}, not running`);
  return saved;
}
