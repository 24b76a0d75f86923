import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExitCode, LocalFailureError, UsageError } from "../../src/errors.js";
import { toolVersion } from "../../src/version.js";
import { startFakeGateway, type FakeGateway, type RecordedPush } from "../support/fakeGateway.js";
import {
  buildVerifyMetrics,
  checkTextfilePath,
  PushgatewayError,
  pushToGateway,
  writeTextfile,
  type VerifyMetricsInput,
} from "../../src/output/metrics.js";

const SCOPE = "workspaces=ws-1,ws-2";

function input(over: Partial<VerifyMetricsInput> = {}): VerifyMetricsInput {
  return {
    runId: "run-7f3a",
    scope: SCOPE,
    finishedAt: new Date("2025-01-02T03:04:05.000Z"),
    durationSeconds: 12.5,
    clean: false,
    counts: {
      checked: 1000,
      equal: 990,
      confirmed: 6,
      transient: 4,
      "confirmed.field_differs": 5,
      "confirmed.new_missing": 1,
      "transient.new_missing": 4,
      unmigratable: 3,
      unmigratableAccepted: 1,
      "unmigratable.missing_workspace_id": 2,
      "unmigratable.invalid_workspace_id": 1,
      "confirmed.orphan": 7,
      orphans: 7,
    },
    version: "9.9.9",
    ...over,
  };
}

/** `name{labels} value` lines of the text exposition, comments dropped. */
async function samples(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

const S = `scope="${SCOPE}"`;

describe("buildVerifyMetrics", () => {
  it("exposes every gauge with its value, each series labelled with the scope", async () => {
    const lines = await samples(buildVerifyMetrics(input()));
    expect(lines.sort()).toEqual(
      [
        `jobs_migrate_verify_pairs_checked{${S}} 1000`,
        `jobs_migrate_verify_pairs_equal{${S}} 990`,
        `jobs_migrate_verify_divergences{kind="orphan",status="confirmed",${S}} 7`,
        `jobs_migrate_verify_divergences{kind="field_differs",status="confirmed",${S}} 5`,
        `jobs_migrate_verify_divergences{kind="new_missing",status="confirmed",${S}} 1`,
        `jobs_migrate_verify_divergences{kind="new_missing",status="transient",${S}} 4`,
        `jobs_migrate_verify_unmigratable{reason="missing_workspace_id",${S}} 2`,
        `jobs_migrate_verify_unmigratable{reason="invalid_workspace_id",${S}} 1`,
        `jobs_migrate_verify_unmigratable_unaccepted{${S}} 2`,
        `jobs_migrate_verify_clean{${S}} 0`,
        `jobs_migrate_verify_last_completed_timestamp_seconds{${S}} 1735787045`,
        `jobs_migrate_verify_duration_seconds{${S}} 12.5`,
        `jobs_migrate_build_info{version="9.9.9",${S}} 1`,
      ].sort(),
    );
  });

  it("says which version wrote the metrics: this build's unless told", async () => {
    const lines = await samples(buildVerifyMetrics(input({ version: undefined })));
    expect(lines).toContain(`jobs_migrate_build_info{version="${toolVersion()}",${S}} 1`);
    expect(toolVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("reports a clean run as 1 and zeroes the counters it was not given", async () => {
    const lines = await samples(buildVerifyMetrics(input({ clean: true, counts: {} })));
    expect(lines).toContain(`jobs_migrate_verify_clean{${S}} 1`);
    expect(lines).toContain(`jobs_migrate_verify_pairs_checked{${S}} 0`);
    expect(lines.some((l) => l.startsWith("jobs_migrate_verify_divergences"))).toBe(false);
  });

  it("never turns a key name or field value into a label value", async () => {
    const counts = {
      "confirmed.field_differs.params": 1,
      "confirmed.ai:jobs:job-42": 1,
      "unmigratable.Bearer s3cr3t": 1,
    };
    const text = await buildVerifyMetrics(input({ counts })).metrics();
    expect(text).not.toMatch(/params|job-42|s3cr3t/);
    expect(text).toContain(
      `jobs_migrate_verify_divergences{kind="other",status="confirmed",${S}} 2`,
    );
    expect(text).toContain(`jobs_migrate_verify_unmigratable{reason="other",${S}} 1`);
  });

  it("uses a registry of its own, not prom-client's global one", async () => {
    buildVerifyMetrics(input());
    const { register } = await import("prom-client");
    expect(await register.getSingleMetric("jobs_migrate_verify_clean")).toBeUndefined();
  });
});

describe("writeTextfile", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "textfile-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("replaces the file whole and leaves no temporary file behind", async () => {
    const path = join(dir, "jobs_migrate_verify.prom");
    await writeTextfile(buildVerifyMetrics(input({ clean: true })), path);
    await writeTextfile(buildVerifyMetrics(input({ clean: false })), path);
    expect(await readdir(dir)).toEqual(["jobs_migrate_verify.prom"]);
    const text = await readFile(path, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    // Parseable exposition: every sample line is `name{labels} number`.
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
      expect(line).toMatch(/^jobs_migrate_[a-z_]+\{[^}]*\} -?[0-9.e+]+$/);
    }
    expect(text).toContain(`jobs_migrate_verify_clean{${S}} 0`);
    expect(text).toContain(`jobs_migrate_build_info{version="9.9.9",${S}} 1`);
  });

  it("refuses a name node_exporter ignores with a UsageError (exit 2)", async () => {
    const path = join(dir, "metrics.txt");
    const err = await writeTextfile(buildVerifyMetrics(input()), path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.Usage);
    expect((err as UsageError).message).toMatch(/must end in \.prom/);
  });

  it.each([
    [
      "a directory that does not exist",
      (d: string) => join(d, "missing", "m.prom"),
      /no directory .*missing$/,
    ],
    ["a parent that is a file", (d: string) => join(d, "file", "m.prom"), /no directory .*file$/],
    ["a path that is a directory", (d: string) => join(d, "sub.prom"), /: it is a directory$/],
  ])(
    "fails on %s with a LocalFailureError (exit 6) naming the file",
    async (_name, pathOf, reason) => {
      await mkdir(join(dir, "sub.prom"));
      await writeFile(join(dir, "file"), "");
      const path = pathOf(dir);
      const err = await writeTextfile(buildVerifyMetrics(input()), path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LocalFailureError);
      expect((err as LocalFailureError).exitCode).toBe(ExitCode.LocalFailure);
      expect((err as LocalFailureError).message).toContain(`metrics textfile ${path}`);
      expect((err as LocalFailureError).message).toMatch(reason);
      expect((await readdir(dir)).filter((f) => f.includes(".tmp."))).toEqual([]);
    },
  );

  it("lets the CLI check the path before the run starts", async () => {
    await expect(checkTextfilePath(join(dir, "ok.prom"))).resolves.toBeUndefined();
    await expect(checkTextfilePath(join(dir, "nope", "ok.prom"))).rejects.toBeInstanceOf(
      LocalFailureError,
    );
    await expect(checkTextfilePath(join(dir, "ok.txt"))).rejects.toBeInstanceOf(UsageError);
  });
});

describe("pushToGateway", () => {
  let gw: FakeGateway;
  let port: number;
  let requests: RecordedPush[];
  const setStatus = (status: number) => (gw.status = status);

  beforeEach(async () => {
    gw = await startFakeGateway();
    port = gw.port;
    requests = gw.requests;
  });
  afterEach(async () => {
    await gw.close();
  });

  it("replaces the group job/scope (PUT), with the URL's credentials and the build info", async () => {
    const registry = buildVerifyMetrics(input());
    await pushToGateway(registry, `http://pusher:pa55w0rd@127.0.0.1:${port}`);
    expect(requests).toHaveLength(1);
    const [req] = requests;
    // PUT replaces every series of the group; POST would keep those this run did not push.
    expect(req?.method).toBe("PUT");
    expect(req?.url).toBe(`/metrics/job/jobs_migrate_verify/scope/${encodeURIComponent(SCOPE)}`);
    expect(req?.authorization).toBe(`Basic ${Buffer.from("pusher:pa55w0rd").toString("base64")}`);
    expect(req?.body).toContain(`jobs_migrate_verify_pairs_checked{${S}} 1000`);
    expect(req?.body).toContain(
      `jobs_migrate_verify_divergences{kind="field_differs",status="confirmed",${S}} 5`,
    );
    expect(req?.body).toContain(`jobs_migrate_verify_clean{${S}} 0`);
    expect(req?.body).toContain(`jobs_migrate_build_info{version="9.9.9",${S}} 1`);
  });

  it("a clean run's push carries no divergence series, so yesterday's vanish with the group", async () => {
    const url = `http://127.0.0.1:${port}`;
    await pushToGateway(buildVerifyMetrics(input()), url);
    await pushToGateway(
      buildVerifyMetrics(input({ clean: true, counts: { checked: 5, equal: 5 } })),
      url,
    );
    expect(requests.map((r) => [r.method, r.url])).toEqual([
      ["PUT", `/metrics/job/jobs_migrate_verify/scope/${encodeURIComponent(SCOPE)}`],
      ["PUT", `/metrics/job/jobs_migrate_verify/scope/${encodeURIComponent(SCOPE)}`],
    ]);
    expect(requests[0]?.body).toContain("jobs_migrate_verify_divergences{");
    expect(requests[1]?.body).not.toContain("jobs_migrate_verify_divergences{");
    expect(requests[1]?.body).toContain(`jobs_migrate_verify_clean{${S}} 1`);
  });

  it("names the job it is given", async () => {
    await pushToGateway(buildVerifyMetrics(input()), `http://127.0.0.1:${port}/`, "nightly_verify");
    expect(requests[0]?.url).toMatch(/^\/metrics\/job\/nightly_verify\/scope\//);
  });

  it("rejects without credentials when the gateway refuses the push", async () => {
    setStatus(401);
    const url = `http://pusher:pa55w0rd@127.0.0.1:${port}`;
    const err = await pushToGateway(buildVerifyMetrics(input()), url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PushgatewayError);
    const message = (err as Error).message;
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).toContain("401");
    expect(message).not.toContain("pa55w0rd");
    expect(message).not.toContain(Buffer.from("pusher:pa55w0rd").toString("base64"));
  });

  it("rejects without credentials when the gateway is unreachable", async () => {
    await gw.close();
    const url = `http://pusher:pa55w0rd@127.0.0.1:${port}/`;
    const err = await pushToGateway(buildVerifyMetrics(input()), url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PushgatewayError);
    expect((err as Error).message).toBe(
      `pushing metrics to http://pusher:***@127.0.0.1:${port}/ failed: ECONNREFUSED`,
    );
  });

  it("gives up on a gateway that never answers", async () => {
    gw.hang = true;
    const started = Date.now();
    const push = pushToGateway(
      buildVerifyMetrics(input()),
      `http://127.0.0.1:${port}`,
      undefined,
      200,
    );
    await expect(push).rejects.toThrow(/timed out/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses a URL that is not http(s) as a usage error, password hidden", async () => {
    const err = await pushToGateway(buildVerifyMetrics(input()), "redis://u:pa55w0rd@x:1").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).not.toContain("pa55w0rd");
  });
});
