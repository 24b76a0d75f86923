/**
 * One test's keys (a fresh prefix) on one server, and a backfill pointed at them: seed,
 * run in the foreground or the background, read its checkpoint, check what it copied.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { expect, onTestFinished } from "vitest";
import { readHashBuffers, sameHash, seedOldJobs, type JobRef } from "./appTraffic.js";
import { checkpointProgress, waitFor } from "./checkpoint.js";
import { prefixArgs, runCli, startCli } from "./cli.js";
import { keysUnder } from "./keys.js";
import { uniquePrefix, type RedisClient } from "./targets.js";

/** One test's keys (a fresh prefix) on one server, and the tool pointed at them. */
export function testKeys(redis: RedisClient, url: string, label: string) {
  const p = uniquePrefix(label);
  const state = (key: string) => `${p}jm:backfill:${key}`;
  const withUrl = (args: string[]) => [...args, "--redis-url", url, ...prefixArgs(p)];
  const backfillArgs = (extra: string[]) => withUrl(["backfill", "--batch-size", "50", ...extra]);
  const checkpoint = () => checkpointProgress(redis, state("checkpoint"));
  const scanned = async () => (await checkpoint()).scanned;
  return {
    p,
    state,
    checkpoint,
    scanned,
    cli: (...args: string[]) => runCli(withUrl(args)),
    backfill: (...extra: string[]) => runCli(backfillArgs(extra)),
    seed: (count: number) =>
      seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count, workspaces: 3 }),
    /** A backfill in the background, once it has made progress; stderr readable meanwhile. */
    async start(...extra: string[]) {
      const run = startCli(backfillArgs(extra));
      onTestFinished(() => void run.child.kill("SIGKILL")); // left running by a failed test
      let stderr = "";
      run.child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      await waitFor("progress", async () => (await scanned()) > 0);
      const logged = (text: string, ms?: number) =>
        waitFor(`"${text}" on stderr`, async () => stderr.includes(text), ms);
      return { ...run, stderr: () => stderr, logged };
    },
    /** Keys the checkpoint gains per second over the next `ms`. */
    async keysPerSecond(ms: number) {
      const [from, t0] = [await scanned(), Date.now()];
      await sleep(ms);
      return ((await scanned()) - from) / ((Date.now() - t0) / 1000);
    },
    /** Exactly one new key per job, holding its old key's bytes. */
    async expectEveryJobCopied(jobs: JobRef[]) {
      const newKey = (j: JobRef) => `${p}ai:job:${j.workspace_id}:${j.job_id}`;
      expect(await keysUnder(redis, `${p}ai:job:`)).toEqual(jobs.map(newKey).sort());
      for (const j of jobs) {
        const old = await readHashBuffers(redis, `${p}ai:jobs:${j.job_id}`);
        expect(sameHash(old, await readHashBuffers(redis, newKey(j)))).toBe(true);
      }
    },
  };
}
