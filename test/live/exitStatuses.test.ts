/**
 * Exit statuses tell the truth: a Redis that fails under any subcommand is exit 3 in one
 * line naming the endpoint (never "internal error" 70); a local file that cannot be
 * written (--archive, --report, --metrics-file) is exit 6 naming the file, and cleanup
 * then has deleted no key whose archive line was not written.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer } from "../../tools/redisServer.js";
import { readHashBuffers, sameHash, type JobRef } from "../support/appTraffic.js";
import { BIN, prefixArgs, runCli, type CliResult } from "../support/cli.js";
import { FLAG_ON, newKey, oldKey, provenJobs, toolArgs } from "../support/cleanup.js";
import { tempFile, verifyArgs } from "../support/divergences.js";
import { keysUnder, snapshotPrefix } from "../support/keys.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";
import { startTripwire } from "../support/tripwire.js";

const PASSWORD = "s3cret-Pa55word";

/** Exit `code`, one line on stderr matching `pattern`, no stack trace, no password. */
function expectOneLine(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^jobs-migrate: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/internal error|\bat .*\.js:\d+/);
  expect(r.stdout + r.stderr).not.toContain(PASSWORD);
}

/**
 * A run that fails: exit `code`, and its last line on stderr (after the progress lines) is
 * the one error line, matching `pattern`, never calling Redis the culprit.
 */
function expectRunFailed(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trim().split("\n");
  const errors = lines.filter((l) => l.startsWith("jobs-migrate: "));
  expect(errors, r.stderr).toHaveLength(1);
  expect(lines[lines.length - 1]).toBe(errors[0]);
  expect(errors[0]).toMatch(pattern);
  expect(errors[0]).not.toMatch(/Redis|internal error/);
}

/** An archive of one hash, as `cleanup --archive` writes it, for `restore --from`. */
function oneHashArchive(p: string): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const path = tempFile("one.jsonl");
  const fields = [[b64("job_id"), b64("j-1")]];
  const record = { key: b64(`${p}ai:jobs:j-1`), fields, pttlMs: -1 };
  writeFileSync(
    path,
    `${JSON.stringify({ ...record, archivedAt: new Date().toISOString(), display: "j-1" })}\n`,
  );
  return path;
}

// Every subcommand that talks to Redis, with arguments that make it send a command at once.
const COMMANDS: [string, (p: string) => string[]][] = [
  ["restore", (p) => ["restore", "--from", oneHashArchive(p)]],
  ["flag", () => ["flag"]],
  ["flag set", (p) => ["flag", "set", "on", "--flag-key", `${p}flag`, "--reason", "test"]],
  ["ctl pause", () => ["ctl", "pause"]],
  ["ctl set --run", () => ["ctl", "set", "rate=100", "--run", "backfill"]],
  ["locks", () => ["locks"]],
  ["locks release", () => ["locks", "release", "--force", "--run", "backfill"]],
  ["backfill", () => ["backfill"]],
  ["verify", () => ["verify"]],
  ["cleanup --execute", () => ["cleanup", "--execute", "--override-guard"]],
];

/** A subcommand against a server of the test's own, under the test's own prefixes. */
function against(url: string, name: string, argsOf: (p: string) => string[]): string[] {
  const p = uniquePrefix(`exit-${name}`);
  return [...argsOf(p), "--redis-url", url, ...prefixArgs(p)];
}

describe("the help", () => {
  it("with no arguments: the help on stderr and exit 2, with no stray line", async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^Usage: jobs-migrate /);
    expect(r.stderr).toContain("\nExit status:\n");
    expect(r.stderr).not.toContain("outputHelp");
    expect(r.stderr).not.toMatch(/^jobs-migrate: /m);
  });

  it("asked for: on stdout and exit 0, a subcommand's with its own exit statuses", async () => {
    const r = await runCli(["cleanup", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^Usage: jobs-migrate cleanup /);
    expect(r.stdout).toMatch(
      /\nExit status:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}3 .*\n {2}4 .*\n {2}5 .*\n {2}6 .*\n {2}70 .*\n {2}130 .*\n(\n|$)/,
    );
  });
});

describe("a Redis that stops is exit 3 in one line naming the endpoint, in every subcommand", () => {
  describe.concurrent("stopped before the command starts", () => {
    it.each(COMMANDS)("%s", async (name, argsOf) => {
      const server = await startRedisServer({ extraArgs: ["--requirepass", PASSWORD] });
      await server.stop();
      const url = `redis://:${PASSWORD}@127.0.0.1:${server.port}`;
      const r = await runCli(against(url, name, argsOf));
      expectOneLine(r, 3, new RegExp(`redis://127\\.0\\.0\\.1:${server.port}/0`));
    });
  });

  describe.concurrent("stopped between its connect and its first command", () => {
    it.each(COMMANDS)("%s", async (name, argsOf) => {
      const server = await startRedisServer({ extraArgs: ["--requirepass", PASSWORD] });
      const wire = await startTripwire(server.port, () => server.kill("SIGKILL"));
      try {
        const url = `redis://:${PASSWORD}@127.0.0.1:${wire.port}`;
        const r = await runCli(against(url, name, argsOf));
        expect(wire.trippedBy, `${name} never got past its connect`).toBeDefined();
        expectOneLine(r, 3, new RegExp(`redis://127\\.0\\.0\\.1:${wire.port}/0`));
        expect(r.stdout).toBe("");
      } finally {
        await wire.close();
        await server.stop();
      }
    });
  });
});

/** A path whose parent is a regular file: ENOTDIR on every system, for root too. */
function underAFile(name: string): string {
  const file = tempFile("a-regular-file");
  writeFileSync(file, "");
  return join(file, name);
}

/**
 * The CLI with a file size limit of `blocks` × 512 bytes and SIGXFSZ ignored (inherited
 * through exec): a write past the limit fails with EFBIG, as on a disk that fills up
 * mid-run, for root too.
 */
function runCliWithFileLimit(args: string[], blocks: number, env: Record<string, string>) {
  const script = `trap '' XFSZ; ulimit -f ${blocks} && exec "$0" "$@"`;
  const child = spawn("sh", ["-c", script, process.execPath, BIN, ...args], {
    cwd: dirname(tempFile("cwd")),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let [stdout, stderr] = ["", ""];
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}

/** The complete records of an archive by key (a fragment a failed write left is skipped). */
function completeRecords(path: string): Map<string, Map<string, Buffer>> {
  const out = new Map<string, Map<string, Buffer>>();
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  for (const line of text.split("\n").slice(0, -1)) {
    let r: { key: string; fields: [string, string][] };
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      continue;
    }
    const fields = new Map(
      r.fields.map(([f, v]) => [Buffer.from(f, "base64").toString(), Buffer.from(v, "base64")]),
    );
    out.set(Buffer.from(r.key, "base64").toString(), fields);
  }
  return out;
}

describe.each(targets())("a local file that cannot be written, on %s", (target: Target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  /**
   * Every job is still in Redis (under its name, or moved aside by a single instance's
   * cleanup --archive), or deleted with its archive record complete and equal to its new
   * key, which is untouched. Returns how many were deleted.
   */
  async function noJobLost(p: string, jobs: JobRef[], archive: string): Promise<number> {
    const aside = `${p}jm:cleanup:aside:old:`;
    const present = new Set([
      ...(await keysUnder(redis, `${p}ai:jobs:`)),
      // An aside key is the aside prefix and the old key's whole name.
      ...(await keysUnder(redis, aside)).map((k) => k.slice(aside.length)),
    ]);
    const records = completeRecords(archive);
    let deleted = 0;
    for (const j of jobs) {
      const now = await readHashBuffers(redis, newKey(p, j));
      expect(now.size, `${newKey(p, j)} is gone`).toBeGreaterThan(0);
      if (present.has(oldKey(p, j))) continue;
      deleted++;
      const record = records.get(oldKey(p, j));
      expect(record, `${oldKey(p, j)} was deleted without its archive record`).toBeDefined();
      expect(sameHash(record!, now), oldKey(p, j)).toBe(true);
    }
    return deleted;
  }

  it("cleanup --execute --archive on a disk that is full: exit 6 naming the file, nothing deleted, and the next run archives and deletes every key", async () => {
    const p = uniquePrefix("exit-archive-full");
    const jobs = await provenJobs(redis, target, p, 40);
    const before = await snapshotPrefix(redis, `${p}ai:jobs:`);
    // /dev/full opens like any file and fails every write with ENOSPC.
    const args = ["--execute", "--archive", "/dev/full", "--batch-size", "10"];
    const r = await runCli(toolArgs(target, p, "cleanup", ...args), FLAG_ON);
    expectRunFailed(r, 6, /archive file \/dev\/full failed: no space left on the device;.*kept/);
    const file = tempFile("archive.jsonl");
    expect(await noJobLost(p, jobs, file)).toBe(0);

    const next = await runCli(
      toolArgs(target, p, "cleanup", "--execute", "--archive", file),
      FLAG_ON,
    );
    expect(next.code, next.stderr).toBe(0);
    expect(await noJobLost(p, jobs, file)).toBe(jobs.length);
    expect(completeRecords(file).size).toBe(before.size);
  });

  it("cleanup --execute --archive when the disk fills mid-run: exit 6 naming the file, every deleted key has its whole record, the rest are kept, and a resumed run completes the same archive", async () => {
    const p = uniquePrefix("exit-archive-fills");
    const jobs = await provenJobs(redis, target, p, 60);
    const file = tempFile("archive.jsonl");
    // 8 KiB: a few batches of 10 records fit, then a write fails half-way.
    const args = ["--execute", "--archive", file, "--batch-size", "10"];
    const r = await runCliWithFileLimit(toolArgs(target, p, "cleanup", ...args), 16, {
      AI_JOBS_NEW_SCHEMA: "on",
    });
    expectRunFailed(r, 6, new RegExp(`archive file ${file} failed: file too large.*kept`));
    // The write that failed left a fragment of a record at the end of the file.
    const written = readFileSync(file);
    expect(written.length).toBe(16 * 512);
    expect(written.at(-1)).not.toBe(0x0a);
    const deleted = await noJobLost(p, jobs, file);
    expect(deleted).toBeGreaterThan(0);
    expect(deleted).toBeLessThan(jobs.length);

    const next = await runCli(
      toolArgs(target, p, "cleanup", "--execute", "--archive", file),
      FLAG_ON,
    );
    expect(next.code, next.stderr).toBe(0);
    // The resumed run began on a line of its own: only the fragment is not a record.
    const lines = readFileSync(file, "utf8").split("\n").slice(0, -1);
    expect(lines.filter((l) => !l.endsWith("}"))).toHaveLength(1);
    expect(await noJobLost(p, jobs, file)).toBe(jobs.length);
  });

  it("cleanup --execute --archive into a directory that cannot exist: exit 6 naming the file before any work, nothing changed", async () => {
    const p = uniquePrefix("exit-archive-enotdir");
    await provenJobs(redis, target, p, 10);
    const before = await snapshotPrefix(redis, p);
    const path = underAFile("archive.jsonl");
    const r = await runCli(toolArgs(target, p, "cleanup", "--execute", "--archive", path), FLAG_ON);
    expectOneLine(
      r,
      6,
      new RegExp(`cannot write the archive file ${path}: a parent of it is not a directory`),
    );
    expect(await snapshotPrefix(redis, p)).toEqual(before);
  });

  it("verify --report on a full disk: exit 6 naming the file, not a Redis outage, and the lock is free for the next run", async () => {
    const p = uniquePrefix("exit-report-full");
    const jobs = await provenJobs(redis, target, p, 20);
    await redis.hset(newKey(p, jobs[3]!), "status", "diverged");
    const r = await runCli(verifyArgs(target, p, "--report", "/dev/full"));
    expectRunFailed(r, 6, /report file \/dev\/full failed: no space left on the device/);
    const again = await runCli(verifyArgs(target, p));
    expect(again.code, again.stderr).toBe(1);
  });

  it.each([
    [
      "--report",
      "report.jsonl",
      /cannot write the report file .+: a parent of it is not a directory/,
    ],
    ["--metrics-file", "m.prom", /cannot write metrics textfile .+: no directory/],
  ])(
    "verify %s into a directory that cannot exist: exit 6 naming the file before any work",
    async (flag, name, pattern) => {
      const p = uniquePrefix("exit-verify-enotdir");
      await provenJobs(redis, target, p, 5);
      const before = await snapshotPrefix(redis, `${p}jm:`);
      const path = underAFile(name);
      const r = await runCli(verifyArgs(target, p, flag, path));
      expectOneLine(r, 6, pattern);
      expect(r.stderr).toContain(path);
      expect(await snapshotPrefix(redis, `${p}jm:`)).toEqual(before);
    },
  );
});
