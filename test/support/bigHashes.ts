/**
 * For the command-budget test: a keyspace of ordinary jobs plus job hashes that are costly
 * to read, copy or dump in one command (hundreds of fields, a megabyte `params`), and the
 * SLOWLOG of every master read back, to see whether any single command held a server long.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { flatten, pendingJobHash, seedOldJobs, type JobRef } from "./jobHashes.js";
import type { RedisClient } from "./targets.js";

/** CLIENT SETNAME of the test's own connections, so SLOWLOG can tell them from the tool's. */
export const HARNESS_CLIENT = "command-budget-harness";

export interface BigKeyspace {
  /** Every job seeded, in the order normal, wide, huge. */
  all: JobRef[];
  /** The jobs with `wideFields` extra fields. */
  wide: JobRef[];
  /** The jobs whose `params` is `hugeBytes` long. */
  huge: JobRef[];
}

export interface BigKeyspaceOptions {
  oldPrefix: string;
  /** Ordinary jobs from seedOldJobs (mixed states, TTLs, non-UTF-8 bytes). */
  normal: number;
  wide: number;
  wideFields: number;
  huge: number;
  hugeBytes: number;
}

/** A valid pending job over 4 workspaces; `extra` fields are appended after the app's. */
function jobFields(ref: JobRef, params: string, extra: number): (string | Buffer)[] {
  const hash = pendingJobHash({
    ...ref,
    action_provider: "google",
    action_name: "drive.upload",
    params,
    actor_id: "user-1",
  });
  for (let k = 0; k < extra; k++) hash.set(`extra_${k}`, `value-${k}-${ref.job_id}`);
  return flatten(hash);
}

/**
 * `normal` ordinary old jobs, then `wide` old jobs with `wideFields` extra fields each and
 * `huge` old jobs whose `params` is a JSON text of `hugeBytes` bytes: all valid jobs (job_id
 * matches the key, a valid workspace_id, a status), so every subcommand must handle them.
 */
export async function seedBigKeyspace(
  redis: RedisClient,
  o: BigKeyspaceOptions,
): Promise<BigKeyspace> {
  const normal = await seedOldJobs(redis, {
    oldPrefix: o.oldPrefix,
    count: o.normal,
    workspaces: 4,
  });
  const ref = (kind: string, i: number): JobRef => ({
    job_id: `${kind}-${i}`,
    workspace_id: `ws-${i % 4}`,
  });
  const wide = Array.from({ length: o.wide }, (_, i) => ref("wide", i));
  const huge = Array.from({ length: o.huge }, (_, i) => ref("huge", i));
  const blob = `{"blob":"${"x".repeat(Math.max(0, o.hugeBytes - 11))}"}`;
  await Promise.all([
    ...wide.map((j) =>
      redis.hset(`${o.oldPrefix}${j.job_id}`, ...jobFields(j, "{}", o.wideFields)),
    ),
    ...huge.map((j) => redis.hset(`${o.oldPrefix}${j.job_id}`, ...jobFields(j, blob, 0))),
  ]);
  return { all: [...normal, ...wide, ...huge], wide, huge };
}

/**
 * `count` valid old jobs (`wide-0` …, 4 workspaces) with `fields` extra fields each, fast:
 * one hash is built, DUMPed, and RESTOREd under every key (then its job_id and
 * workspace_id set), instead of sending every field of every job.
 */
export async function seedWideJobs(
  redis: RedisClient,
  oldPrefix: string,
  count: number,
  fields: number,
): Promise<JobRef[]> {
  const template = `command-budget-template-${randomBytes(4).toString("hex")}`;
  await redis.hset(template, ...jobFields({ job_id: "x", workspace_id: "ws-0" }, "{}", fields));
  const payload = await redis.dumpBuffer(template);
  await redis.del(template);
  if (payload === null) throw new Error("the template hash vanished");
  const jobs = Array.from({ length: count }, (_, i) => ({
    job_id: `wide-${i}`,
    workspace_id: `ws-${i % 4}`,
  }));
  for (let start = 0; start < count; start += 250) {
    await Promise.all(
      jobs.slice(start, start + 250).map(async (j) => {
        const key = `${oldPrefix}${j.job_id}`;
        await redis.restore(key, 0, payload);
        await redis.hset(key, "job_id", j.job_id, "workspace_id", j.workspace_id);
      }),
    );
  }
  return jobs;
}

/** One SLOWLOG entry of one master. */
export interface SlowEntry {
  port: number;
  durationUs: number;
  /** The command and its first arguments (SLOWLOG keeps 32, each cut at 128 bytes). */
  args: string[];
  client: string;
  clientName: string;
}

/** Log every command slower than `thresholdUs` on every master, from an empty log. */
export async function resetSlowlogs(masters: Redis[], thresholdUs: number): Promise<void> {
  await Promise.all(
    masters.map(async (m) => {
      await m.config("SET", "slowlog-log-slower-than", String(thresholdUs));
      await m.config("SET", "slowlog-max-len", "10000");
      await m.call("SLOWLOG", "RESET");
    }),
  );
}

/** Every master's SLOWLOG, without the harness's own commands, slowest first. */
export async function slowEntries(masters: Redis[]): Promise<SlowEntry[]> {
  const logs = await Promise.all(
    masters.map(async (m) => ({
      port: Number(m.options.port),
      log: (await m.call("SLOWLOG", "GET", "-1")) as [
        number,
        number,
        number,
        string[],
        string,
        string,
      ][],
    })),
  );
  return logs
    .flatMap(({ port, log }) =>
      log.map(([, , durationUs, args, client, clientName]) => ({
        port,
        durationUs,
        args,
        client,
        clientName,
      })),
    )
    .filter((e) => e.clientName !== HARNESS_CLIENT)
    .sort((a, b) => b.durationUs - a.durationUs);
}

/** One line per entry, for assertion messages. */
export function describeSlow(entries: SlowEntry[]): string {
  if (entries.length === 0) return "no SLOWLOG entry";
  const line = (e: SlowEntry) => {
    const args = e.args
      .slice(0, 4)
      .map((a) => (a.length > 40 ? `${a.slice(0, 40).replace(/\s+/g, " ")}…` : a))
      .join(" ");
    return `  ${(e.durationUs / 1000).toFixed(1)} ms on :${e.port}  ${args}  (${e.client})`;
  };
  const shown = entries.slice(0, 20).map(line);
  if (entries.length > 20) shown.push(`  … and ${entries.length - 20} more`);
  return `${entries.length} SLOWLOG entries:\n${shown.join("\n")}`;
}
