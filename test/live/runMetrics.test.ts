/**
 * Every SCAN run reports to Prometheus while it runs and when it ends (--metrics-file;
 * the Pushgateway side is in test/unit/runMetrics.test.ts): backfill's progress is in the
 * textfile before it ends, and its final figures after.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedOldJobs } from "../support/appTraffic.js";
import { waitFor } from "../support/checkpoint.js";
import { toolArgs } from "../support/cleanup.js";
import { jsonOf, runCli, startCli } from "../support/cli.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";

const dir = mkdtempSync(join(tmpdir(), "jm-metrics-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The value of the sample `name{labels}` in a textfile, if there is one. */
function value(file: string, series: string): number | undefined {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

describe.each(targets())("run metrics on %s", (target: Target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it("backfill's progress is in the textfile while it runs; its result, exit status and end when it ends", async () => {
    const p = uniquePrefix("metrics");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 600, workspaces: 3 });
    const file = join(dir, `${p.replace(/\W/g, "_")}backfill.prom`);
    const L = (sub: string) => `{subcommand="${sub}",scope="all"}`;
    const run = startCli(
      toolArgs(
        target,
        p,
        "backfill",
        "--rate",
        "300",
        "--batch-size",
        "50",
        "--progress-interval",
        "1",
        "--metrics-file",
        file,
        "--json",
      ),
    );
    await waitFor("keys processed mid-run in the textfile", async () => {
      const done = value(file, `jobs_migrate_run_keys_processed${L("backfill")}`) ?? 0;
      return (
        value(file, `jobs_migrate_run_in_progress${L("backfill")}`) === 1 && done > 0 && done < 600
      );
    });
    expect(value(file, `jobs_migrate_run_keys_per_second${L("backfill")}`)).toBeGreaterThan(0);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(value(file, `jobs_migrate_run_in_progress${L("backfill")}`)).toBe(0);
    expect(value(file, `jobs_migrate_run_exit_code${L("backfill")}`)).toBe(0);
    expect(
      value(file, `jobs_migrate_run_last_completed_timestamp_seconds${L("backfill")}`),
    ).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(
      value(file, 'jobs_migrate_run_outcomes{subcommand="backfill",outcome="copied",scope="all"}'),
    ).toBe(jsonOf(r).counts.copied);
    expect(jsonOf(r).counts.copied).toBe(600);

    // verify: its own gauges and the run's in one file; cleanup (a dry run): the run's.
    const verifyFile = join(dir, `${p.replace(/\W/g, "_")}verify.prom`);
    const v = await runCli(toolArgs(target, p, "verify", "--metrics-file", verifyFile));
    expect(v.code, v.stderr).toBe(0);
    expect(value(verifyFile, 'jobs_migrate_verify_clean{scope="all"}')).toBe(1);
    expect(value(verifyFile, `jobs_migrate_run_exit_code${L("verify")}`)).toBe(0);
    const cleanupFile = join(dir, `${p.replace(/\W/g, "_")}cleanup.prom`);
    const c = await runCli(toolArgs(target, p, "cleanup", "--metrics-file", cleanupFile));
    expect(c.code, c.stderr).toBe(0);
    expect(
      value(
        cleanupFile,
        'jobs_migrate_run_outcomes{subcommand="cleanup",outcome="wouldDelete",scope="all"}',
      ),
    ).toBe(600);

    // flag: the rollout state as gauges (gates, key counts, phase).
    const flagFile = join(dir, `${p.replace(/\W/g, "_")}flag.prom`);
    const f = await runCli(toolArgs(target, p, "flag", "--count", "--metrics-file", flagFile));
    expect(f.code, f.stderr).toBe(0);
    expect(value(flagFile, 'jobs_migrate_rollout_gate_met{gate="backfilled",scope="all"}')).toBe(1);
    expect(value(flagFile, 'jobs_migrate_rollout_gate_met{gate="done",scope="all"}')).toBe(0);
    expect(value(flagFile, 'jobs_migrate_rollout_keys{side="old",scope="all"}')).toBe(600);
    expect(value(flagFile, 'jobs_migrate_rollout_keys{side="new",scope="all"}')).toBe(600);
    expect(value(flagFile, 'jobs_migrate_rollout_keys_exact{scope="all"}')).toBe(1);
    expect(
      readFileSync(flagFile, "utf8").match(/^jobs_migrate_rollout_phase\{.*\} 1$/gm),
    ).toHaveLength(1);
  });

  it("restore reports its result: restored by outcome, exit status 0", async () => {
    const p = uniquePrefix("metrics-restore");
    const b64 = (t: string) => Buffer.from(t).toString("base64");
    const archive = join(dir, `${p.replace(/\W/g, "_")}archive.jsonl`);
    const line = (id: string) =>
      JSON.stringify({
        key: b64(`${p}ai:jobs:${id}`),
        fields: [[b64("job_id"), b64(id)]],
        pttlMs: -1,
        archivedAt: new Date().toISOString(),
        display: id,
      });
    writeFileSync(archive, `${line("j-1")}\n${line("j-2")}\n`);
    const file = join(dir, `${p.replace(/\W/g, "_")}restore.prom`);
    const r = await runCli(
      toolArgs(target, p, "restore", "--from", archive, "--metrics-file", file),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await redis.hget(`${p}ai:jobs:j-2`, "job_id")).toBe("j-2");
    expect(
      value(file, 'jobs_migrate_run_outcomes{subcommand="restore",outcome="restored",scope="all"}'),
    ).toBe(2);
    expect(value(file, 'jobs_migrate_run_exit_code{subcommand="restore",scope="all"}')).toBe(0);
  });

  it("--log-format json: every stderr line is one JSON object, progress and logs with the text lines' content", async () => {
    const p = uniquePrefix("jsonlog");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 300, workspaces: 2 });
    const args = ["--rate", "300", "--batch-size", "50", "--progress-interval", "1"];
    const r = await runCli(toolArgs(target, p, "backfill", ...args, "--log-format", "json"));
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const progress = lines.filter((l) => l.event === "progress");
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(Date.parse(String(l.time))).not.toBeNaN();
    expect(progress.at(-1)).toMatchObject({
      level: "info",
      subcommand: "backfill",
      processed: 300,
      done: true,
    });
    expect(progress.at(-1)?.counts).toMatchObject({ copied: 300 });
    // An error is a JSON line too, with its exit status.
    const bad = await runCli(
      toolArgs(target, p, "backfill", "--rate", "x", "--log-format", "json"),
    );
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stderr)).toMatchObject({
      level: "error",
      exitCode: 2,
      message: expect.stringMatching(/^--rate must be/),
    });
  });

  it("a run refused before any work (a lock held) says so in its metrics: exit status 4, not completed", async () => {
    const p = uniquePrefix("metrics-lock");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 400, workspaces: 2 });
    const file = join(dir, `${p.replace(/\W/g, "_")}.prom`);
    const first = startCli(toolArgs(target, p, "backfill", "--rate", "200", "--batch-size", "20"));
    await waitFor(
      "the first run's lock",
      async () => (await redis.exists(`${p}jm:backfill:lock`)) === 1,
    );
    const second = await runCli(toolArgs(target, p, "backfill", "--metrics-file", file));
    expect(second.code).toBe(4);
    first.child.kill("SIGINT");
    await first.done;
    expect(value(file, 'jobs_migrate_run_exit_code{subcommand="backfill",scope="all"}')).toBe(4);
    expect(
      value(
        file,
        'jobs_migrate_run_last_completed_timestamp_seconds{subcommand="backfill",scope="all"}',
      ),
    ).toBeUndefined();
  });
});
