/**
 * deploy/: what can be checked without a Docker engine, a Kubernetes API server or a
 * systemd to install into. The manifests are valid against the Kubernetes schemas and name
 * only options the tool has; the Dockerfile copies what exists and runs the single-file
 * build under tini as a non-root user; the units run the tool with its own options; the
 * alert rules and the dashboard are valid PromQL over metrics a real verify writes.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parser as promql } from "@prometheus-io/lezer-promql";
import { CronJob, Job, type ICronJob, type IJob } from "kubernetes-models/batch/v1";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { helpOf, prefixArgs, runCli } from "../support/cli.js";
import { targets, uniquePrefix } from "../support/targets.js";

const ROOT = resolve(import.meta.dirname, "../..");
const DEPLOY = join(ROOT, "deploy");
const read = (path: string) => readFileSync(join(DEPLOY, path), "utf8");

/** Each `--option` of `args` is one `jobs-migrate <sub> --help` lists. */
async function expectToolOptions(sub: string, args: string[], where: string): Promise<void> {
  expect(await helpOf(), where).toMatch(new RegExp(`^  ${sub} `, "m"));
  const help = await helpOf(sub);
  for (const option of args.filter((a) => a.startsWith("--")))
    expect(help, `${where}: ${option}`).toMatch(new RegExp(`(^|\\s)${option}(\\s|$)`, "m"));
}

describe("deploy/kubernetes", () => {
  const manifests = readdirSync(join(DEPLOY, "kubernetes")).map((file) => ({
    file,
    doc: parseYaml(read(`kubernetes/${file}`)) as ICronJob | IJob,
  }));
  const podOf = (doc: ICronJob | IJob) =>
    (doc.kind === "CronJob" ? doc.spec!.jobTemplate.spec! : (doc as IJob).spec!).template.spec!;

  it("has the nightly verify as a CronJob and the backfill as a Job", () => {
    expect(manifests.map((m) => [m.file, m.doc.kind])).toEqual([
      ["backfill-job.yaml", "Job"],
      ["verify-cronjob.yaml", "CronJob"],
    ]);
  });

  it.each(manifests)("$file is valid against the Kubernetes schema", ({ doc }) => {
    const model = doc.kind === "CronJob" ? new CronJob(doc) : new Job(doc as IJob);
    expect(() => model.validate()).not.toThrow();
  });

  it.each(manifests)(
    "$file runs as non-root, with Redis credentials from a Secret and only options the tool has",
    async ({ file, doc }) => {
      const pod = podOf(doc);
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      for (const container of pod.containers) {
        expect(container.command, "the image's entrypoint (tini) stays").toBeUndefined();
        const [sub, ...args] = container.args as string[];
        await expectToolOptions(sub!, args, file);
        const env = Object.fromEntries(
          (container.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef?.name]),
        );
        expect(env).toEqual({
          REDIS_URL: "jobs-migrate-redis",
          REDIS_PASSWORD: "jobs-migrate-redis",
        });
      }
    },
  );

  it("the nightly verify pushes its metrics to a Pushgateway", () => {
    const doc = manifests.find((m) => m.doc.kind === "CronJob")!.doc;
    const args = podOf(doc).containers[0]!.args!;
    expect(args[0]).toBe("verify");
    expect(args[args.indexOf("--pushgateway") + 1]).toMatch(/^http:\/\/\S+:9091$/);
  });
});

/** A systemd unit as { section: { key: value } }. */
function unit(file: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let current: Record<string, string> = {};
  for (const line of read(`systemd/${file}`).split("\n")) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) sections[header[1]!] = current = {};
    else if (/^\w+=/.test(line))
      current[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
  }
  return sections;
}

describe("deploy/systemd", () => {
  it("the service runs the installed jobs-migrate verify with options it has, as a service user", async () => {
    const service = unit("jobs-migrate-verify.service").Service!;
    expect(service.Type).toBe("oneshot");
    expect(service.User).not.toBe("root");
    const [exe, sub, ...args] = service.ExecStart!.split(" ");
    expect(exe).toBe("/usr/local/bin/jobs-migrate");
    expect(sub).toBe("verify");
    await expectToolOptions(sub!, args, "jobs-migrate-verify.service");
    const metrics = args[args.indexOf("--metrics-file") + 1]!;
    expect(service.ReadWritePaths!.split(" ")).toContain(
      metrics.slice(0, metrics.lastIndexOf("/")),
    );
  });

  it("the timer starts it every night", () => {
    const timer = unit("jobs-migrate-verify.timer");
    expect(timer.Timer!.OnCalendar).toBe("*-*-* 03:15:00");
    expect(timer.Install!.WantedBy).toBe("timers.target");
  });
});

describe("deploy/Dockerfile", () => {
  const lines = read("Dockerfile")
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .filter((l) => /^[A-Z]+ /.test(l));
  const all = (word: string) =>
    lines.filter((l) => l.startsWith(`${word} `)).map((l) => l.slice(word.length + 1));

  it("builds from Node 20 slim and copies only files that exist and its .dockerignore lets through", () => {
    expect(all("FROM").map((f) => f.split(" ")[0])).toEqual([
      "node:20-bookworm-slim",
      "node:20-bookworm-slim",
    ]);
    const allowed = read("Dockerfile.dockerignore")
      .split("\n")
      .filter((l) => l.startsWith("!"))
      .map((l) => l.slice(1).replace(/\/$/, ""));
    const sources = all("COPY")
      .filter((c) => !c.startsWith("--from"))
      .flatMap((c) => c.split(" ").slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(allowed, source).toContain(source.replace(/\/$/, ""));
    }
  });

  it("runs the single-file build it copied, under tini, as a non-root user, with options the tool has", async () => {
    const [, copied] = all("COPY")
      .find((c) => c.startsWith("--from=build"))!
      .split(" ")
      .slice(1);
    expect(all("USER")).toEqual(["node"]);
    const entrypoint = JSON.parse(all("ENTRYPOINT")[0]!) as string[];
    expect(entrypoint).toEqual(["/usr/bin/tini", "--", "node", copied]);
    expect(
      all("RUN").some((r) => r.includes("apt-get install -y --no-install-recommends tini")),
    ).toBe(true);
    const cmd = JSON.parse(all("CMD")[0]!) as string[];
    const help = await helpOf();
    for (const option of cmd) expect(help).toContain(` ${option}`);
  });
});

interface AlertRule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

describe("deploy/monitoring", () => {
  const work = mkdtempSync(join(tmpdir(), "jm-deploy-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const rules = (
    parseYaml(read("monitoring/alerts.yaml")) as { groups: { rules: AlertRule[] }[] }
  ).groups.flatMap((g) => g.rules);
  const dashboard = JSON.parse(read("monitoring/grafana-dashboard.json")) as {
    panels: { id: number; type: string; title: string; targets?: { expr: string }[] }[];
  };
  const exprs = [
    ...rules.map((r) => r.expr),
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ];

  it("alert rules name a severity, a summary and a runbook that exists; one fires on a nightly that stopped reporting", () => {
    for (const rule of rules) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(page|ticket)$/);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(existsSync(join(ROOT, rule.annotations.runbook ?? "(none)")), rule.alert).toBe(true);
    }
    expect(rules.find((r) => r.alert === "JobsMigrateVerifyAbsent")?.expr).toBe(
      'absent(jobs_migrate_verify_last_completed_timestamp_seconds{scope="all"})',
    );
  });

  it("every alert and dashboard query is valid PromQL", () => {
    // Every panel but a row (a heading) has a query.
    const graphs = dashboard.panels.filter((p) => p.type !== "row");
    expect(graphs.every((p) => (p.targets ?? []).length > 0)).toBe(true);
    for (const expr of exprs) {
      let error = false;
      promql.parse(expr).iterate({ enter: (node) => void (error ||= node.type.isError) });
      expect(error, expr).toBe(false);
    }
  });

  it("every metric they query is one that verify writes", async () => {
    const [single] = targets();
    const file = join(work, "verify.prom");
    const args = ["--redis-url", single!.url, ...prefixArgs(uniquePrefix("deploy"))];
    const r = await runCli(["verify", ...args, "--metrics-file", file]);
    expect(r.code, r.stderr).toBe(0);
    const written = readFileSync(file, "utf8");
    const queried = new Set(exprs.join("\n").match(/\bjobs_migrate_\w+/g));
    expect(queried.size).toBeGreaterThan(5);
    for (const name of queried) expect(written, name).toContain(`# TYPE ${name} gauge`);
  });

  it("the nightly runbook links the dashboard and the alert rules", () => {
    const runbook = readFileSync(join(ROOT, "runbooks", "nightly.md"), "utf8");
    for (const file of ["grafana-dashboard.json", "alerts.yaml"])
      expect(runbook).toContain(`(../deploy/monitoring/${file})`);
  });
});
