import { constants } from "node:fs";
import { access, open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { Gauge, Pushgateway, Registry } from "prom-client";
import { LocalFailureError, UsageError } from "../errors.js";
import { fileFailureReason } from "../fileFailure.js";
import { redactUrl } from "../redis/redisUrl.js";
import { toolVersion } from "../version.js";
import { redactValue } from "./redact.js";

/** What a finished verify run exposes as metrics. */
export interface VerifyMetricsInput {
  runId: string;
  /** The run's scope, e.g. "all", "workspaces=ws-1,ws-2", "sample=0.1": a label on every series. */
  scope: string;
  finishedAt: Date;
  durationSeconds: number;
  clean: boolean;
  /**
   * Counters of the run: `checked`, `equal`, `confirmed.<kind>`, `transient.<kind>`
   * (orphans as kind `orphan`), `unmigratable.<reason>`; totals without a dot
   * (`confirmed`, `orphans`, `unmigratable`) are left out (sum() the breakdown), other
   * keys are ignored.
   */
  counts: Record<string, number>;
  /** The tool's version, for `jobs_migrate_build_info` (default: this build's). */
  version?: string;
}

/** Kinds and reasons are code-defined snake_case names: anything else might be data. */
const LABEL_VALUE = /^[a-z][a-z0-9_]{0,62}$/;

const scopes = new WeakMap<Registry, string>();

/**
 * The run's gauges in a registry of their own (never prom-client's global one), every
 * series labelled `scope`. Label values come only from counter names that look like
 * code-defined names; any other is counted under `other`, so that no key name or field
 * value can become a label (cardinality, secrets).
 */
export function buildVerifyMetrics(result: VerifyMetricsInput): Registry {
  const registry = scopedRegistry(result.scope);
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name: `jobs_migrate_verify_${name}`, help, labelNames, registers: [registry] });

  const c = result.counts;
  gauge("pairs_checked", "Old/new job pairs compared by the last verify run.").set(c.checked ?? 0);
  gauge("pairs_equal", "Pairs found equal by the last verify run.").set(c.equal ?? 0);
  const divergences = gauge(
    "divergences",
    "Divergent pairs by kind; status=transient if a re-check found them equal.",
    ["kind", "status"],
  );
  const unmigratable = gauge("unmigratable", "Old keys that cannot be migrated, by reason.", [
    "reason",
  ]);
  for (const [name, value] of Object.entries(c)) {
    const [group, detail, ...rest] = name.split(".");
    if (detail === undefined) continue;
    const label = rest.length === 0 && LABEL_VALUE.test(detail) ? detail : "other";
    if (group === "confirmed" || group === "transient") {
      divergences.inc({ kind: label, status: group }, value);
    } else if (group === "unmigratable") {
      unmigratable.inc({ reason: label }, value);
    }
  }
  gauge(
    "unmigratable_unaccepted",
    "Unmigratable old keys not in the accepted set (`jobs-migrate accept`): alert on this.",
  ).set(Math.max(0, (c.unmigratable ?? 0) - (c.unmigratableAccepted ?? 0)));
  gauge("clean", "1 if the last verify run found nothing wrong, else 0.").set(result.clean ? 1 : 0);
  gauge("last_completed_timestamp_seconds", "When the last verify run finished.").set(
    result.finishedAt.getTime() / 1000,
  );
  gauge("duration_seconds", "How long the last verify run took.").set(result.durationSeconds);
  addBuildInfo(registry, result.version);
  return registry;
}

/** A registry of its own (never prom-client's global one), every series labelled `scope`. */
export function scopedRegistry(scope: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ scope });
  scopes.set(registry, scope);
  return registry;
}

/** `jobs_migrate_build_info{version}` 1: which jobs-migrate wrote the metrics. */
export function addBuildInfo(registry: Registry, version = toolVersion()): void {
  new Gauge({
    name: "jobs_migrate_build_info",
    help: "Always 1; the version label says which jobs-migrate wrote these metrics.",
    labelNames: ["version"],
    registers: [registry],
  }).set({ version }, 1);
}

/**
 * Check early (before the run) that `path` can take a textfile: it must end in `.prom`,
 * the only files node_exporter's textfile collector reads (else a UsageError, exit 2), in
 * an existing directory this process may write (else a LocalFailureError, exit 6).
 */
export async function checkTextfilePath(path: string): Promise<void> {
  if (!path.endsWith(".prom")) {
    throw new UsageError(
      `metrics textfile ${path} must end in .prom (node_exporter reads only *.prom files)`,
    );
  }
  const dir = dirname(path);
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir)
    throw new LocalFailureError(`cannot write metrics textfile ${path}: no directory ${dir}`);
  await access(dir, constants.W_OK).catch((err: unknown) => {
    throw new LocalFailureError(
      `cannot write metrics textfile ${path}: ${fileFailureReason(err)} (directory ${dir})`,
      { cause: err },
    );
  });
}

/**
 * Write the registry for node_exporter's textfile collector: to a temporary file in the
 * same directory, flushed, then renamed over `path`. rename() is atomic within one
 * filesystem, so the collector never reads half a file; the temporary name does not
 * end in .prom, so the collector ignores it meanwhile.
 */
export async function writeTextfile(metrics: Registry | string, path: string): Promise<void> {
  await checkTextfilePath(path);
  const tmp = `${path}.tmp.${process.pid}`;
  const text = typeof metrics === "string" ? metrics : await metrics.metrics();
  try {
    const file = await open(tmp, "w", 0o644);
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new LocalFailureError(
      `cannot write metrics textfile ${path}: ${fileFailureReason(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** A push to the Pushgateway failed; the message carries no credentials. */
export class PushgatewayError extends Error {
  override readonly name = "PushgatewayError";
}

/**
 * Replace the group job/scope on the Pushgateway at `url` with the registry's metrics
 * (HTTP PUT; credentials in the URL are sent as basic auth). Each scope is its own group,
 * so runs of different scopes do not overwrite each other; within a group, a PUT drops
 * every series the run did not push, so the divergence series of yesterday's run vanish
 * after a clean one (a POST would keep them on the gateway forever).
 * Rejects with a PushgatewayError (URL password hidden) after at most `timeoutMs`.
 */
export async function pushToGateway(
  registry: Registry,
  url: string,
  job = "jobs_migrate_verify",
  timeoutMs = 10_000,
  /** "add" (POST): replace only the metrics pushed, keep the group's others (mid-run). */
  mode: "replace" | "add" = "replace",
): Promise<void> {
  const scope = scopes.get(registry);
  if (scope === undefined) throw new Error("pushToGateway needs a registry from scopedRegistry");
  const shown = redactUrl(url);
  let secrets: string[];
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error();
    secrets = credentialForms(parsed);
  } catch {
    throw new UsageError(`invalid Pushgateway URL ${shown}: expected http(s)://host:port`);
  }
  const gateway = new Pushgateway(url, { timeout: timeoutMs }, registry);
  try {
    const params = { jobName: job, groupings: { scope } };
    await (mode === "add" ? gateway.pushAdd(params) : gateway.push(params));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    let reason = code ?? (err instanceof Error ? err.message : String(err));
    // The error may carry the gateway's response body, which may echo the request.
    for (const secret of secrets) reason = reason.split(secret).join("***");
    reason = redactValue("pushgateway_response", Buffer.from(reason), { maxLength: 200 });
    throw new PushgatewayError(`pushing metrics to ${shown} failed: ${reason}`);
  }
}

/** The URL's password as written, decoded, and inside the Basic auth header sent. */
function credentialForms(url: URL): string[] {
  if (!url.password) return [];
  const password = safeDecode(url.password);
  const userinfo = `${safeDecode(url.username)}:${password}`;
  return [url.password, password, Buffer.from(userinfo).toString("base64")];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
