import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readHashBuffers, sameHash } from "../support/appTraffic.js";
import { jsonOf, runCli } from "../support/cli.js";
import {
  backfilledJobs,
  countKinds,
  identifyAll,
  newKeyOf,
  oldKeyOf,
  plantEveryKind,
  readReport,
  tempFile,
  verifyArgs,
  type Reported,
} from "../support/divergences.js";
import { snapshotKeys, snapshotPrefix } from "../support/keys.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";

const SECRET = "s3cr3t-XYZ";

const partition = <T>(list: T[], test: (t: T) => boolean): [T[], T[]] => [
  list.filter(test),
  list.filter((t) => !test(t)),
];

describe.each(targets())("verify on %s", (target: Target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  const backfilled = (p: string, count: number) => backfilledJobs(redis, target, p, count);

  it("a clean backfilled keyspace verifies clean: exit 0, every pair equal, nothing confirmed", async () => {
    const p = uniquePrefix("clean");
    await backfilled(p, 200);
    const r = await runCli(verifyArgs(target, p, "--json"));
    expect(r.code, r.stderr).toBe(0);
    const result = jsonOf(r);
    expect(result).toMatchObject({ subcommand: "verify", exitCode: 0, clean: true, scope: "all" });
    expect(result.counts).toMatchObject({ checked: 200, equal: 200, newChecked: 200 });
    for (const absent of ["confirmed", "transient", "orphans", "unmigratable"])
      expect(result.counts[absent], absent).toBeUndefined();
    expect(result.divergences).toEqual([]);
    expect(result.unmigratable).toEqual([]);
  });

  it("reports exactly the planted divergences of every kind with their fields, and nothing else (exit 1)", async () => {
    const p = uniquePrefix("kinds");
    const jobs = await backfilled(p, 200);
    const planted = await plantEveryKind(redis, p, jobs);
    const report = tempFile("report.jsonl");
    const r = await runCli(verifyArgs(target, p, "--json", "--report", report));
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(1);
    const result = jsonOf(r);
    expect(result).toMatchObject({ exitCode: 1, clean: false, scope: "all", sampleFraction: 1 });
    // The report holds every divergence and every unmigratable key, one per line.
    const [bad, divergent] = partition(readReport(report), (d) => d.kinds[0] === "unmigratable");
    expect(identifyAll(divergent)).toEqual(identifyAll(planted.divergences));
    expect(Object.fromEntries(bad.map((u) => [u.oldKey, u.reason]))).toEqual(planted.unmigratable);
    const reported = result.divergences as Reported[];
    expect(reported.every((d) => d.status === "confirmed")).toBe(true);
    expect(identifyAll(reported)).toEqual(identifyAll(planted.divergences));
    const listed = (result.unmigratable as { key: string; reason: string }[]).map((u) => [
      u.key,
      u.reason,
    ]);
    expect(Object.fromEntries(listed)).toEqual(planted.unmigratable);

    const byKind = Object.entries(countKinds(planted.divergences)).map(([k, n]) => [
      `confirmed.${k}`,
      n,
    ]);
    const decided = Object.entries(result.counts).filter(([k]) => /^(confirmed|transient)/.test(k));
    expect(Object.fromEntries(decided)).toEqual({
      confirmed: planted.divergences.length,
      ...Object.fromEntries(byKind),
    });
    const reasons = Object.values(planted.unmigratable).map((r) => [`unmigratable.${r}`, 1]);
    expect(result.counts).toMatchObject({
      ...Object.fromEntries(reasons),
      unmigratable: Object.keys(planted.unmigratable).length,
      orphans: 5,
      checked: 199, // 200 jobs, one of them now without its old key (an orphan)
      equal: 199 - (planted.divergences.length - 5),
    });

    // The sample shows what differs: values for fields, both TTLs for a TTL divergence.
    const of = (i: number) => reported.find((d) => d.oldKey === oldKeyOf(p, jobs[i]!.job_id))!;
    expect(of(1).values?.status).toEqual({ old: "running", new: "tampered" });
    expect(of(24)).toMatchObject({ oldTtlMs: -1 });
    expect(of(24).newTtlMs).toBeGreaterThan(3_500_000);
    expect(of(16).newTtlMs! - of(16).oldTtlMs!).toBeGreaterThan(3_500_000);

    // --no-orphans skips the pass over the new prefix: the same pairs, no orphan.
    const pairsOnly = jsonOf(await runCli(verifyArgs(target, p, "--no-orphans", "--json")));
    const notOrphans = planted.divergences.filter((d) => !d.kinds.includes("orphan"));
    expect(identifyAll(pairsOnly.divergences as Reported[])).toEqual(identifyAll(notOrphans));
    expect(pairsOnly.counts.orphans).toBeUndefined();
    const last = JSON.parse((await redis.get(`${p}jm:verify:last`))!) as Record<string, unknown>;
    expect(last).toMatchObject({ runId: pairsOnly.runId, orphansChecked: false });
  });

  it("never shows a secret in stdout, stderr, the report or the metrics, yet names the fields and kinds", async () => {
    const p = uniquePrefix("secrets");
    const jobs = await backfilled(p, 12);
    const [a, b, c] = [jobs[1]!, jobs[2]!, jobs[3]!];
    const nested = `{"a":{"B":[{"AuthoriZation":"${SECRET}"}]}}`;
    await redis.hset(oldKeyOf(p, a.job_id), "params", nested);
    await redis.hset(newKeyOf(p, a), "params", nested.replace("}]}}", `,"n":2}]}}`));
    await redis.hset(oldKeyOf(p, b.job_id), "headers", `Authorization: Bearer ${SECRET}`);
    await redis.hset(newKeyOf(p, b), "headers", `Authorization: Bearer ${SECRET}-2`);
    await redis.hset(newKeyOf(p, b), "last_header", `Authorization: Bearer ${SECRET}`);
    await redis.hset(oldKeyOf(p, c.job_id), "result", `{"ok":true,"api_key":"${SECRET}"}`);
    await redis.hset(oldKeyOf(p, c.job_id), "note", `retry with token=${SECRET}`);
    await redis.hset(newKeyOf(p, c), "result", `{"ok":false,"api_key":"${SECRET}"}`);

    const files = ["report.jsonl", "verify.prom", "report2.jsonl"].map(tempFile);
    const json = await runCli(
      verifyArgs(target, p, "--json", "--report", files[0]!, "--metrics-file", files[1]!),
    );
    const human = await runCli(verifyArgs(target, p, "--report", files[2]!));
    expect([json.code, human.code]).toEqual([1, 1]);
    const [report, metrics, report2] = files.map((f) => readFileSync(f, "utf8"));
    const shown = [json.stdout, json.stderr, human.stdout, human.stderr, report, metrics, report2];
    for (const text of shown) expect(text).not.toContain(SECRET);

    const lines = readReport(files[0]!);
    expect(lines.map((l) => `${l.kinds.join("+")} ${l.newKey}`).sort()).toEqual(
      [
        `field_differs ${newKeyOf(p, a)}`,
        `field_differs+field_extra ${newKeyOf(p, b)}`,
        `field_differs+field_missing ${newKeyOf(p, c)}`,
      ].sort(),
    );
    for (const text of [report!, report2!, human.stdout])
      for (const name of ["params", "headers", "last_header", "result", "note", "field_extra"])
        expect(text).toContain(name);
    expect(human.stdout).toContain("[REDACTED]");
    expect(metrics).toMatch(
      /^jobs_migrate_verify_divergences\{[^}]*kind="field_differs",status="confirmed"[^}]*\} 3$/m,
    );
    expect(metrics).toMatch(/^jobs_migrate_verify_clean\{scope="all"\} 0$/m);
    expect(metrics).toMatch(/^jobs_migrate_verify_pairs_checked\{scope="all"\} 12$/m);
  });

  it("--repair --dry-run prints the planned copies and writes nothing", async () => {
    const p = uniquePrefix("dry-run");
    const jobs = await backfilled(p, 200);
    const planted = await plantEveryKind(redis, p, jobs);
    const before = await snapshotPrefix(redis, `${p}ai:`);
    const r = await runCli(verifyArgs(target, p, "--repair", "--dry-run"));
    expect(r.code, r.stderr).toBe(1);
    expect(await snapshotPrefix(redis, `${p}ai:`)).toEqual(before);
    // Orphans (a copy cannot fix them) and keys of another type are never repaired.
    const repairable = planted.divergences.filter(
      (d) => !d.kinds.includes("orphan") && !d.kinds.includes("new_wrong_type"),
    );
    const plan = r.stdout.split("\n").filter((l) => l.startsWith("would repair:"));
    expect(plan.sort()).toEqual(
      repairable
        .map((d) => `would repair: copy ${d.oldKey} -> ${d.newKey} (${d.kinds.join(", ")})`)
        .sort(),
    );
  });

  it("--repair fixes every confirmed divergence it may and nothing else: equal pairs stay byte-identical", async () => {
    const p = uniquePrefix("repair");
    const jobs = await backfilled(p, 200);
    const planted = await plantEveryKind(redis, p, jobs);
    const touched = new Set(planted.divergences.map((d) => d.newKey));
    const untouched = jobs.map((j) => newKeyOf(p, j)).filter((k) => !touched.has(k));
    const equalBefore = await snapshotKeys(redis, untouched);
    const oldBefore = await snapshotPrefix(redis, `${p}ai:jobs:`);

    const repair = await runCli(verifyArgs(target, p, "--repair", "--json"));
    expect(repair.code, repair.stderr).toBe(1); // it did find confirmed divergences
    const kept = (d: { kinds: string[] }) =>
      d.kinds.includes("orphan") || d.kinds.includes("new_wrong_type");
    const repairable = planted.divergences.filter((d) => !kept(d));
    expect(jsonOf(repair).counts.repaired).toBe(repairable.length);
    expect(await snapshotKeys(redis, untouched)).toEqual(equalBefore);
    expect(await snapshotPrefix(redis, `${p}ai:jobs:`)).toEqual(oldBefore);
    for (const d of repairable) {
      const [o, n] = [
        await readHashBuffers(redis, d.oldKey),
        await readHashBuffers(redis, d.newKey),
      ];
      expect(sameHash(o, n), d.newKey).toBe(true);
      const [oldTtl, newTtl] = [await redis.pttl(d.oldKey), await redis.pttl(d.newKey)];
      if (oldTtl < 0) expect(newTtl, d.newKey).toBe(-1);
      else expect(Math.abs(newTtl - oldTtl), d.newKey).toBeLessThan(5000);
    }

    const again = await runCli(verifyArgs(target, p, "--json"));
    const result = jsonOf(again);
    expect(identifyAll(result.divergences as Reported[])).toEqual(
      identifyAll(planted.divergences.filter(kept)),
    );
    expect(result.counts.confirmed).toBe(planted.divergences.length - repairable.length);
    // A pair it may not repair is not an unmigratable old key: that list stays as it was.
    const listed = jsonOf(repair).unmigratable as { key: string; reason: string }[];
    expect(Object.fromEntries(listed.map((u) => [u.key, u.reason]))).toEqual(planted.unmigratable);
  });

  it("run by cron (no terminal): no escape codes, the documented exit status, and the printed result stored in Redis", async () => {
    const p = uniquePrefix("cron");
    const jobs = await backfilled(p, 100);
    const lastKey = `${p}jm:verify:last`;
    const stored = async () =>
      JSON.parse((await redis.get(lastKey)) ?? "null") as Record<string, unknown> & {
        counts: Record<string, number>;
      };
    for (const broken of [false, true]) {
      if (broken) await plantEveryKind(redis, p, jobs);
      const human = await runCli(verifyArgs(target, p));
      const json = await runCli(verifyArgs(target, p, "--json"));
      for (const r of [human, json]) {
        expect(r.stdout).not.toContain("\x1b");
        expect(r.stderr).not.toContain("\x1b");
        expect(r.code).toBe(broken ? 1 : 0);
      }
      expect(human.stdout).toMatch(broken ? /: NOT CLEAN$/m : /: CLEAN$/m);
      const result = jsonOf(json);
      const last = await stored();
      expect(last).toMatchObject({ runId: result.runId, scope: "all", clean: !broken });
      expect(last.counts).toEqual(result.counts);
      expect(last.counts.confirmed).toBe(broken ? 24 : undefined);
    }
  });
});
