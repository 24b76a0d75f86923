/**
 * For cleanup, restore and backfill --reverse tests: a keyspace proven ready for cleanup
 * (backfilled, then a clean verify of the whole keyspace), the flag as the environment
 * sets it, and the archive file read back as raw bytes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkpointProgress, waitFor } from "./checkpoint.js";
import { runCli, type CliOptions } from "./cli.js";
import { backfilledJobs, verifyArgs } from "./divergences.js";
import type { JobRef } from "./jobHashes.js";
import type { RedisClient, Target } from "./targets.js";

/** AI_JOBS_NEW_SCHEMA as the application's environment sets it. */
export const FLAG_ON: CliOptions = { env: { AI_JOBS_NEW_SCHEMA: "on" } };
export const FLAG_OFF: CliOptions = { env: { AI_JOBS_NEW_SCHEMA: "off" } };

/** A subcommand against the test's own prefixes; a SCAN run lists every finding. */
export function toolArgs(target: Target, p: string, subcommand: string, ...extra: string[]) {
  const words = subcommand.split(" ");
  const scanRun = ["backfill", "verify", "cleanup"].includes(words[0] ?? "");
  return [
    ...words,
    ...["--redis-url", target.url, "--old-prefix", `${p}ai:jobs:`, "--new-prefix", `${p}ai:job:`],
    ...["--state-prefix", `${p}jm:`, ...(scanRun ? ["--list-limit", "1000"] : []), ...extra],
  ];
}

/** The whole-keyspace verify cleanup's guard asks for; throws unless it came out clean. */
export async function cleanVerify(target: Target, p: string): Promise<void> {
  const r = await runCli(verifyArgs(target, p, "--json"));
  const result = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { clean?: boolean };
  if (result.clean !== true) throw new Error(`verify was not clean (exit ${r.code}): ${r.stderr}`);
}

/** `count` old jobs over 4 workspaces, backfilled, then a clean verify. */
export async function provenJobs(
  redis: RedisClient,
  target: Target,
  p: string,
  count: number,
): Promise<JobRef[]> {
  const jobs = await backfilledJobs(redis, target, p, count);
  await cleanVerify(target, p);
  return jobs;
}

export const oldKey = (p: string, j: JobRef): string => `${p}ai:jobs:${j.job_id}`;
export const newKey = (p: string, j: JobRef): string => `${p}ai:job:${j.workspace_id}:${j.job_id}`;

export interface ArchivedHash {
  fields: Map<string, Buffer>;
  pttlMs: number;
  display: string;
}

/** An --archive file (JSON lines, key and fields in base64) by key. */
export function parseArchive(text: string): Map<string, ArchivedHash> {
  const out = new Map<string, ArchivedHash>();
  for (const line of text.split("\n").filter(Boolean)) {
    const r = JSON.parse(line) as {
      key: string;
      fields: [string, string][];
      pttlMs: number;
      archivedAt: string;
      display: string;
    };
    if (Number.isNaN(Date.parse(r.archivedAt))) throw new Error(`bad archivedAt: ${line}`);
    const fields = new Map(
      r.fields.map(([f, v]) => [Buffer.from(f, "base64").toString(), Buffer.from(v, "base64")]),
    );
    out.set(Buffer.from(r.key, "base64").toString(), {
      fields,
      pttlMs: r.pttlMs,
      display: r.display,
    });
  }
  return out;
}

export const readArchiveFile = (path: string) => parseArchive(readFileSync(path, "utf8"));

/**
 * A FIFO to pass as --archive that nobody reads until `drain()`: once the pipe and the
 * writer's own buffer are full, the writer blocks on its next record. `opened` resolves
 * when the writer has opened it.
 */
export function archiveFifo(): { path: string; opened: Promise<void>; drain(): Promise<string> } {
  const path = join(mkdtempSync(join(tmpdir(), "jm-fifo-")), "archive.fifo");
  execFileSync("mkfifo", [path]);
  const reader = open(path, "r"); // completes once a writer opens the other end
  return {
    path,
    opened: reader.then(() => undefined),
    async drain() {
      const fh = await reader;
      const chunks: Buffer[] = [];
      for (;;) {
        const { bytesRead, buffer } = await fh.read(Buffer.alloc(65536), 0, 65536, null);
        if (bytesRead === 0) break; // the writer closed it
        chunks.push(buffer.subarray(0, bytesRead));
      }
      await fh.close();
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}

/** Wait until a running run's checkpoint has stopped moving for `quietMs`. */
export async function untilStalled(redis: RedisClient, checkpointKey: string, quietMs = 400) {
  let [last, since] = [-1, Date.now()];
  await waitFor("the run to stall", async () => {
    const { scanned, status } = await checkpointProgress(redis, checkpointKey);
    if (status !== undefined && status !== "running")
      throw new Error(`the run ended (${status}) instead of stalling`);
    if (scanned !== last) [last, since] = [scanned, Date.now()];
    return scanned > 0 && Date.now() - since > quietMs;
  });
}
