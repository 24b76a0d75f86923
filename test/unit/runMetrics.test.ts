import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildVerifyMetrics } from "../../src/output/metrics.js";
import { otherFamilies, RunMetrics, type RunProgress } from "../../src/output/runMetrics.js";
import { startFakeGateway, type FakeGateway, type RecordedPush } from "../support/fakeGateway.js";

const progress = (processed: number, over: Partial<RunProgress> = {}): RunProgress => ({
  processed,
  estimatedTotal: 1000,
  rate: 250,
  etaSeconds: (1000 - processed) / 250,
  counts: { copied: processed - 2, alreadyPresent: 2, "unmigratable.no_workspace": 1 },
  throttled: false,
  ...over,
});

const sample = (text: string, name: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(name));
  return line === undefined ? undefined : Number(line.split(" ").pop());
};

let dir: string;
let file: string;
let warnings: string[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "jm-runmetrics-"));
  file = join(dir, "jobs_migrate.prom");
  warnings = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const metricsFor = (over: { gateway?: string; intervalMs?: number } = {}) =>
  new RunMetrics({
    subcommand: "backfill",
    scope: "all",
    file: over.gateway ? undefined : file,
    gateway: over.gateway,
    intervalMs: over.intervalMs ?? 0,
    warn: (m) => warnings.push(m),
  });

describe("RunMetrics to a textfile", () => {
  it("writes progress while the run goes on and the end figures when it ends", async () => {
    const m = metricsFor();
    m.progress(progress(400, { paused: "max-latency" }));
    await m.flushed();
    expect(await readFile(file, "utf8")).toMatch(/^jobs_migrate_run_in_progress\S* 1$/m);
    await m.end({
      exitCode: 0,
      counts: { copied: 998, alreadyPresent: 2 },
      durationSeconds: 4,
      finishedAt: new Date(5_000),
    });
    const text = await readFile(file, "utf8");
    const L = '{subcommand="backfill",scope="all"}';
    expect(sample(text, `jobs_migrate_run_in_progress${L}`)).toBe(0);
    expect(sample(text, `jobs_migrate_run_exit_code${L}`)).toBe(0);
    expect(sample(text, `jobs_migrate_run_last_completed_timestamp_seconds${L}`)).toBe(5);
    expect(sample(text, `jobs_migrate_run_duration_seconds${L}`)).toBe(4);
    expect(
      sample(text, 'jobs_migrate_run_outcomes{subcommand="backfill",outcome="copied",scope="all"}'),
    ).toBe(998);
    expect(text).toMatch(/^jobs_migrate_build_info\{version="[^"]+",scope="all"\} 1$/m);
  });

  it("mid-run, keeps every other family of the file (the last verify's) and replaces its own", async () => {
    await writeFile(
      file,
      '# HELP jobs_migrate_verify_clean x\n# TYPE jobs_migrate_verify_clean gauge\njobs_migrate_verify_clean{scope="all"} 1\n' +
        '# HELP jobs_migrate_run_in_progress old\n# TYPE jobs_migrate_run_in_progress gauge\njobs_migrate_run_in_progress{subcommand="verify",scope="all"} 0\n',
    );
    const m = metricsFor();
    m.progress(progress(400, { paused: "max-latency" }));
    await m.flushed();
    const text = await readFile(file, "utf8");
    expect(sample(text, 'jobs_migrate_verify_clean{scope="all"}')).toBe(1);
    expect(text.match(/^# TYPE jobs_migrate_run_in_progress /gm)).toHaveLength(1);
    const L = '{subcommand="backfill",scope="all"}';
    expect(sample(text, `jobs_migrate_run_in_progress${L}`)).toBe(1);
    expect(sample(text, `jobs_migrate_run_keys_processed${L}`)).toBe(400);
    expect(sample(text, `jobs_migrate_run_keys_estimated${L}`)).toBe(1000);
    expect(sample(text, `jobs_migrate_run_eta_seconds${L}`)).toBe(2.4);
    expect(sample(text, `jobs_migrate_run_paused${L}`)).toBe(1);
    expect(text.match(/^jobs_migrate_build_info/gm)).toHaveLength(1);
  });

  it("writes at most once per interval while the run goes on", async () => {
    const m = metricsFor({ intervalMs: 60_000 });
    m.progress(progress(100));
    await m.flushed();
    m.progress(progress(200));
    await m.flushed();
    const text = await readFile(file, "utf8");
    expect(sample(text, 'jobs_migrate_run_keys_processed{subcommand="backfill",scope="all"}')).toBe(
      100,
    );
  });

  it("at the end of a verify, writes verify's own gauges beside the run's", async () => {
    const m = new RunMetrics({
      subcommand: "verify",
      scope: "all",
      file,
      intervalMs: 0,
      warn: () => undefined,
    });
    const verify = buildVerifyMetrics({
      runId: "r",
      scope: "all",
      finishedAt: new Date(9000),
      durationSeconds: 1,
      clean: true,
      counts: { checked: 5, equal: 5 },
    });
    await m.end(
      {
        exitCode: 0,
        counts: { checked: 5, equal: 5 },
        durationSeconds: 1,
        finishedAt: new Date(9000),
      },
      verify,
    );
    const text = await readFile(file, "utf8");
    expect(sample(text, 'jobs_migrate_verify_clean{scope="all"}')).toBe(1);
    expect(sample(text, 'jobs_migrate_run_exit_code{subcommand="verify",scope="all"}')).toBe(0);
    expect(text.match(/^jobs_migrate_build_info/gm)).toHaveLength(1);
  });

  it("a run that failed keeps its last counts and says how it ended, not when it completed", async () => {
    const m = metricsFor();
    m.progress(progress(300));
    await m.end({ exitCode: 3, durationSeconds: 2, finishedAt: new Date(7000) });
    const text = await readFile(file, "utf8");
    const L = '{subcommand="backfill",scope="all"}';
    expect(sample(text, `jobs_migrate_run_exit_code${L}`)).toBe(3);
    expect(sample(text, `jobs_migrate_run_last_end_timestamp_seconds${L}`)).toBe(7);
    expect(sample(text, `jobs_migrate_run_last_completed_timestamp_seconds${L}`)).toBeUndefined();
    expect(
      sample(text, 'jobs_migrate_run_outcomes{subcommand="backfill",outcome="copied",scope="all"}'),
    ).toBe(298);
  });
});

describe("otherFamilies", () => {
  it("drops only the run's families and the build info", () => {
    const text =
      '# HELP a x\n# TYPE a gauge\na 1\n# HELP jobs_migrate_run_x y\njobs_migrate_run_x{s="1"} 2\njobs_migrate_build_info{version="1"} 1\n';
    expect(otherFamilies(text)).toBe("# HELP a x\n# TYPE a gauge\na 1\n");
  });
});

describe("RunMetrics to a Pushgateway", () => {
  let gw: FakeGateway;
  let url: string;
  let requests: RecordedPush[];
  beforeEach(async () => {
    gw = await startFakeGateway();
    url = `http://127.0.0.1:${gw.port}`;
    requests = gw.requests;
  });
  afterEach(async () => {
    await gw.close();
  });

  it("adds to the group mid-run (POST: the last run's other series stay) and replaces it at the end (PUT)", async () => {
    const m = metricsFor({ gateway: url });
    m.progress(progress(100));
    await m.flushed();
    await m.end({ exitCode: 1, counts: { copied: 1 }, durationSeconds: 1, finishedAt: new Date() });
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /metrics/job/jobs_migrate_backfill/scope/all",
      "PUT /metrics/job/jobs_migrate_backfill/scope/all",
    ]);
    expect(requests[0]!.body).toMatch(
      /jobs_migrate_run_in_progress\{subcommand="backfill",scope="all"\} 1/,
    );
    expect(requests[1]!.body).toMatch(
      /jobs_migrate_run_exit_code\{subcommand="backfill",scope="all"\} 1/,
    );
  });

  it("a gateway that refuses is a warning, said once until a push succeeds, and the run goes on", async () => {
    gw.status = 500;
    const m = metricsFor({ gateway: url });
    m.progress(progress(100));
    await m.flushed();
    m.progress(progress(200));
    await m.flushed();
    await m.end({ exitCode: 0, counts: {}, durationSeconds: 1, finishedAt: new Date() });
    expect(requests).toHaveLength(3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/pushing metrics to http:\/\/127\.0\.0\.1:\d+ failed/);
  });
});
