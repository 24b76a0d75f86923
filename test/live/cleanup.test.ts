import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readHashBuffers, sameHash, type JobRef } from "../support/appTraffic.js";
import { checkpointProgress, killMidRun, waitFor } from "../support/checkpoint.js";
import {
  archiveFifo,
  cleanVerify,
  FLAG_OFF,
  FLAG_ON,
  newKey,
  oldKey,
  parseArchive,
  provenJobs,
  readArchiveFile,
  toolArgs,
  untilStalled,
} from "../support/cleanup.js";
import { jsonOf, runCli, startCli, type CliResult, type CliOptions } from "../support/cli.js";
import { backfilledJobs, verifyArgs } from "../support/divergences.js";
import { keysUnder, snapshotKeys, snapshotPrefix } from "../support/keys.js";
import {
  connect,
  targets,
  uniquePrefix,
  type RedisClient,
  type Target,
} from "../support/targets.js";

const keysOf = (r: CliResult) =>
  ((jsonOf(r).findings ?? []) as { key: string }[]).map((f) => f.key).sort();

/** A refusal: exit 5, one line on stderr naming the reason and how to override it. */
function expectRefused(r: CliResult, reason: RegExp): void {
  expect(r.code, r.stderr).toBe(5);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(
    /^jobs-migrate: cleanup refused: .+; to override .*add --override-guard$/,
  );
  expect(lines[0]).toMatch(reason);
}

describe.each(targets())("cleanup on %s", (target: Target) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = connect(target);
  });
  afterAll(async () => {
    await redis.quit();
  });

  const cleanup = (p: string, opts: CliOptions, ...extra: string[]) =>
    runCli(toolArgs(target, p, "cleanup", ...extra), opts);

  /**
   * `cleanup --execute --archive` into a FIFO nobody reads yet, 10 keys a batch: returns
   * once the run is blocked inside a batch, between proving its pairs and writing their
   * records (the test drains the FIFO with `fifo`).
   */
  async function cleanupBlockedOnArchive(p: string, ...extra: string[]) {
    const fifo = archiveFifo();
    const args = ["--execute", "--archive", fifo.path, "--batch-size", "10", ...extra];
    const run = startCli(toolArgs(target, p, "cleanup", ...args), FLAG_ON);
    await fifo.opened;
    await untilStalled(redis, `${p}jm:cleanup:checkpoint`);
    return { fifo, run };
  }

  it("deletes exactly the old keys proven equal to their new keys, leaves every other key byte-identical, and its dry run deletes nothing", async () => {
    const p = uniquePrefix("cleanup-exact");
    const jobs = await backfilledJobs(redis, target, p, 60);
    const old = `${p}ai:jobs:`;
    await redis.set(`${old}bad-string`, "ws-1");
    await redis.hset(`${old}bad-no-ws`, { job_id: "bad-no-ws", status: "pending" });
    await redis.hset(`${old}bad-ws`, { job_id: "bad-ws", workspace_id: "WS 1" });
    await redis.hset(`${old}bad-mismatch`, { job_id: "other", workspace_id: "ws-1" });
    await redis.hset(`${p}ai:jobsx:1`, { job_id: "1", workspace_id: "ws-1" });
    await redis.rpush(`${p}ai:queue:pending`, "job-1");
    await redis.set(`${p}ai:job:config`, "{}");
    await cleanVerify(target, p);
    // Divergences that appear after the verify: the guard passes, only the per-key
    // comparison at deletion time can keep these old keys.
    for (const j of jobs.slice(1, 4)) await redis.hset(newKey(p, j), "status", "tampered");
    for (const j of jobs.slice(5, 7)) await redis.del(newKey(p, j));
    await redis.del(newKey(p, jobs[9]!));
    await redis.set(newKey(p, jobs[9]!), "not a hash");
    const diverged = [1, 2, 3, 5, 6, 9].map((i) => oldKey(p, jobs[i]!));
    const kept = [
      ...diverged,
      ...["string", "no-ws", "ws", "mismatch"].map((s) => `${old}bad-${s}`),
    ];
    const before = await snapshotPrefix(redis, `${p}ai:`);

    const dry = await cleanup(p, FLAG_ON, "--json");
    expect(dry.code, dry.stderr).toBe(1);
    expect(await snapshotPrefix(redis, `${p}ai:`)).toEqual(before);
    const expected = { differs: 3, newMissing: 2, newWrongType: 1, unmigratable: 4 };
    expect(jsonOf(dry).counts).toMatchObject({ ...expected, wouldDelete: 54 });
    expect(jsonOf(dry).counts.deleted).toBeUndefined();

    const run = await cleanup(p, FLAG_ON, "--execute", "--json");
    expect(run.code, run.stderr).toBe(1);
    expect(jsonOf(run).counts).toMatchObject({ ...expected, deleted: 54 });
    expect(jsonOf(run).counts.wouldDelete).toBeUndefined();
    expect(keysOf(run)).toEqual([...kept].sort());
    expect(await keysUnder(redis, old)).toEqual([...kept].sort());
    // Everything but the 54 proven-equal old keys, byte for byte and with its expiry.
    const gone = new Set(jobs.map((j) => oldKey(p, j)).filter((k) => !kept.includes(k)));
    const survivors = new Map([...before].filter(([k]) => !gone.has(k)));
    expect(await snapshotPrefix(redis, `${p}ai:`)).toEqual(survivors);
  });

  it("an old key re-created within a second of the last deletions stops the run (exit 5), recorded as failed, not completed", async () => {
    const p = uniquePrefix("cleanup-final-look");
    const jobs = await provenJobs(redis, target, p, 20);
    const checkpoint = `${p}jm:cleanup:checkpoint`;
    const run = startCli(toolArgs(target, p, "cleanup", "--execute"), FLAG_ON);
    // Every batch is done (deleted and checkpointed) before the run's final look.
    await waitFor(
      "every key done",
      async () => (await checkpointProgress(redis, checkpoint)).scanned >= 20,
    );
    // update_status of a job whose old key cleanup just deleted.
    await redis.hset(oldKey(p, jobs[0]!), { status: "completed", finished_at: "1735689612000" });
    const r = await run.done;
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr.trim().split("\n").pop()).toMatch(
      /^jobs-migrate: the application's old-schema writes are still on: .+ was re-created after cleanup deleted it;/,
    );
    expect(await redis.hget(checkpoint, "status")).toBe("failed");
    expect(await redis.exists(`${p}jm:cleanup:last`)).toBe(0);
  });

  it("keeps a partial old hash that predates cleanup as unmigratable, not as proof of live old-schema writes", async () => {
    const p = uniquePrefix("cleanup-partial");
    await backfilledJobs(redis, target, p, 10);
    // An old key that expired, then got one more update_status: the app leaves these.
    const partial = `${p}ai:jobs:expired-then-updated`;
    await redis.hset(partial, { status: "completed", finished_at: "2025-10-17T00:00:00Z" });
    await cleanVerify(target, p);
    const before = await snapshotKeys(redis, [partial]);
    const r = await cleanup(p, FLAG_ON, "--execute", "--json");
    expect(r.code, r.stderr).toBe(1);
    const counts = { deleted: 10, "unmigratable.partial_hash": 1 };
    expect(jsonOf(r).counts).toMatchObject(counts);
    expect(await snapshotKeys(redis, [partial])).toEqual(before);
  });

  // A Cluster compares, then deletes with a script that checks each key is unchanged: the
  // window between the two is held open and written into.
  if (target.cluster)
    it("never deletes an old key changed between its comparison and its deletion", async () => {
      const p = uniquePrefix("cleanup-race");
      const jobs = await provenJobs(redis, target, p, 400);
      // The window is held open, not hoped for: the archive is a FIFO that nobody reads
      // until the test says so. Once the pipe and the writer's buffer are full, cleanup
      // blocks inside a batch after comparing its pairs and before deleting them (a key is
      // archived before it is deleted). While it waits, the test changes every old key
      // still present (half of them only on the old side, half on both sides), then drains
      // the FIFO: the blocked batch must find its keys changed since compared, the later
      // batches compare the changed pairs afresh.
      const { fifo, run } = await cleanupBlockedOnArchive(p, "--json");
      const byOldKey = new Map(jobs.map((j) => [oldKey(p, j), j]));
      const left = (await keysUnder(redis, `${p}ai:jobs:`)).map((k) => byOldKey.get(k)!);
      expect(left.length).toBeGreaterThan(0);
      expect(left.length).toBeLessThan(jobs.length);
      const oldOnly = left.filter((_, i) => i % 2 === 0);
      const both = left.filter((_, i) => i % 2 === 1);
      for (const j of oldOnly) await redis.hset(oldKey(p, j), "status", "changed-after-compare");
      for (const j of both) {
        await redis.hset(oldKey(p, j), "note", "changed-on-both-sides");
        await redis.hset(newKey(p, j), "note", "changed-on-both-sides");
      }
      const archived = parseArchive(await fifo.drain());
      const r = await run.done;
      expect(r.code, r.stderr).toBe(1);
      const c = jsonOf(r).counts;
      // The blocked batch really was caught between its comparison and its deletion.
      expect(c.changedSinceCompared).toBeGreaterThan(0);

      const exists = async (j: JobRef) => (await redis.exists(oldKey(p, j))) === 1;
      for (const j of oldOnly) {
        expect(await exists(j), j.job_id).toBe(true);
        expect(await redis.hget(oldKey(p, j), "status")).toBe("changed-after-compare");
      }
      const keptBoth: JobRef[] = [];
      for (const j of both) if (await exists(j)) keptBoth.push(j);
      expect((c.differs ?? 0) + (c.changedSinceCompared ?? 0)).toBe(
        oldOnly.length + keptBoth.length,
      );
      expect(c.deleted).toBe(jobs.length - oldOnly.length - keptBoth.length);

      // Every deleted old key was archived as it was when deleted, and that is exactly
      // what its new key holds now: nothing was lost.
      for (const j of jobs) {
        if (await exists(j)) continue;
        const record = archived.get(oldKey(p, j));
        expect(record, `archive of ${j.job_id}`).toBeDefined();
        expect(sameHash(record!.fields, await readHashBuffers(redis, newKey(p, j))), j.job_id).toBe(
          true,
        );
      }
      // Kept keys are listed, those changed since compared included.
      const kept = [...oldOnly, ...keptBoth].map((j) => oldKey(p, j)).sort();
      expect(keysOf(r)).toEqual(kept);
    });

  // A single instance proves and removes in one script; with --archive the removal is a
  // move aside, and the key is deleted once its record is written. Writes to the names of
  // keys waiting there (update_status re-creating them) are held open and made.
  if (!target.cluster)
    it("with --archive, moves each proven key aside in the step that proves it: a key written under its name meanwhile is never deleted, and cleanup stops (old writes on)", async () => {
      const p = uniquePrefix("cleanup-aside");
      const jobs = await provenJobs(redis, target, p, 400);
      const { fifo, run } = await cleanupBlockedOnArchive(p, "--json");
      const asidePrefix = `${p}jm:cleanup:aside:old:`;
      const names = (await keysUnder(redis, asidePrefix)).map((k) => k.slice(asidePrefix.length));
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        expect(await redis.exists(name), name).toBe(0);
        await redis.hset(name, "status", "written-meanwhile");
      }
      const archived = parseArchive(await fifo.drain());
      const r = await run.done;
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toMatch(
        /old-schema writes are still on: \S+ was re-created after cleanup deleted it/,
      );
      for (const name of names)
        expect(await redis.hgetall(name), name).toEqual({ status: "written-meanwhile" });
      expect(await keysUnder(redis, asidePrefix)).toEqual([]);
      // Every job whose old hash is gone, and every one moved aside, is in the archive as
      // it was, equal to its new key: nothing was lost.
      for (const j of jobs) {
        if (!names.includes(oldKey(p, j)) && (await redis.exists(oldKey(p, j))) === 1) continue;
        const record = archived.get(oldKey(p, j));
        expect(record, `archive of ${j.job_id}`).toBeDefined();
        expect(sameHash(record!.fields, await readHashBuffers(redis, newKey(p, j)))).toBe(true);
      }
    });

  it("with --execute refuses (exit 5, one line, nothing deleted) without a recent clean verify of the whole keyspace and the flag on; --override-guard overrides and says so", async () => {
    const p = uniquePrefix("cleanup-guard");
    const jobs = await backfilledJobs(redis, target, p, 40);
    const exec = (opts: CliOptions, ...extra: string[]) => cleanup(p, opts, "--execute", ...extra);
    let before = await snapshotPrefix(redis, `${p}ai:`);
    // No verify yet, then only a clean canary (one workspace): not the whole keyspace.
    const [none, canary] = await Promise.all([
      exec(FLAG_ON),
      runCli(verifyArgs(target, p, "--workspace", "ws-1")),
    ]);
    expectRefused(none, /no completed verify of the whole keyspace/);
    expect(canary.code).toBe(0);
    expectRefused(await exec(FLAG_ON), /no completed verify of the whole keyspace/);

    await cleanVerify(target, p);
    await redis.set(`${p}flag`, "off");
    const [off, unset, disagree, tooOld] = await Promise.all([
      exec(FLAG_OFF),
      exec({}),
      exec(FLAG_ON, "--flag-key", `${p}flag`),
      exec(FLAG_ON, "--max-verify-age", "1ms"),
    ]);
    expectRefused(off, /AI_JOBS_NEW_SCHEMA must be on/);
    expectRefused(unset, /flag is unknown/);
    expectRefused(disagree, /AI_JOBS_NEW_SCHEMA must be on .*Redis .*flag: off/);
    expectRefused(tooOld, /--max-verify-age/);
    const last = JSON.parse((await redis.get(`${p}jm:verify:last`))!) as Record<string, unknown>;
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
    await redis.set(`${p}jm:verify:last`, JSON.stringify({ ...last, finishedAt: twoDaysAgo }));
    expectRefused(await exec(FLAG_ON), /finished 2880 min ago/);
    expect(await snapshotPrefix(redis, `${p}ai:`)).toEqual(before);

    await redis.hset(newKey(p, jobs[0]!), "status", "tampered");
    expect((await runCli(verifyArgs(target, p))).code).toBe(1);
    before = await snapshotPrefix(redis, `${p}ai:`);
    expectRefused(await exec(FLAG_ON), /the last verify \(run \w+\) was not clean/);
    expect(await snapshotPrefix(redis, `${p}ai:`)).toEqual(before);

    const forced = await exec(FLAG_ON, "--override-guard", "--json");
    expect(forced.code).toBe(1);
    expect(forced.stderr).toMatch(
      /guard overridden by --override-guard: the last verify .* was not clean/,
    );
    expect(jsonOf(forced).counts).toMatchObject({ deleted: 39, differs: 1 });
    expect(await keysUnder(redis, `${p}ai:jobs:`)).toEqual([oldKey(p, jobs[0]!)]);
  });

  if (!target.cluster)
    it.each([
      ["--archive", "archived and deleted"],
      ["no archive", "put back"],
    ])(
      "keys a kill -9 left moved aside are settled by the next run (%s: %s), a dry run only says so, and no job is lost",
      async (mode, settled) => {
        const p = uniquePrefix("cleanup-aside-kill9");
        const jobs = await provenJobs(redis, target, p, 200);
        const { run: first } = await cleanupBlockedOnArchive(p);
        // Killed between moving keys aside and writing their records.
        first.child.kill("SIGKILL");
        expect((await first.done).signal).toBe("SIGKILL");
        const asidePrefix = `${p}jm:cleanup:aside:old:`;
        const aside = await snapshotPrefix(redis, asidePrefix);
        expect(aside.size).toBeGreaterThan(0);
        // What the next run has to take care of (the first one's own records went to the pipe).
        const left = new Set([
          ...[...aside.keys()].map((k) => k.slice(asidePrefix.length)),
          ...(await keysUnder(redis, `${p}ai:jobs:`)),
        ]);

        const dry = await cleanup(p, FLAG_ON);
        expect(dry.stderr).toContain(`${aside.size} key(s) were left moved aside`);
        expect(await snapshotPrefix(redis, asidePrefix)).toEqual(aside);

        const file = join(mkdtempSync(join(tmpdir(), "jm-archive-")), "archive.jsonl");
        const extra = mode === "--archive" ? ["--archive", file] : [];
        const next = await cleanup(p, FLAG_ON, "--execute", ...extra);
        expect(next.code, next.stderr).toBe(0);
        expect(next.stderr).toContain(`${settled} ${aside.size} key(s) an interrupted run left`);
        expect(await keysUnder(redis, asidePrefix)).toEqual([]);
        expect(await keysUnder(redis, `${p}ai:jobs:`)).toEqual([]);
        if (mode === "--archive") {
          // Each key moved aside, and each deleted since, is archived as it was: its new
          // key's exact bytes.
          const archived = readArchiveFile(file);
          expect([...archived.keys()].sort()).toEqual([...left].sort());
          for (const j of jobs.filter((j) => left.has(oldKey(p, j)))) {
            const record = archived.get(oldKey(p, j));
            expect(record, j.job_id).toBeDefined();
            expect(sameHash(record!.fields, await readHashBuffers(redis, newKey(p, j)))).toBe(true);
          }
        }
      },
    );

  it("after kill -9 mid-run the next cleanup resumes and deletes every proven-equal old key; a second run meanwhile exits 4", async () => {
    const p = uniquePrefix("cleanup-kill9");
    await provenJobs(redis, target, p, 1000);
    // The flag as the team keeps it in Redis, with nothing in the environment.
    await redis.set(`${p}flag`, "on");
    const args = toolArgs(target, p, "cleanup", "--execute", "--flag-key", `${p}flag`);
    args.push("--batch-size", "20");
    const newBefore = await snapshotPrefix(redis, `${p}ai:job:`);
    const first = startCli([...args, "--rate", "400"]);
    const lock = `${p}jm:cleanup:lock`;
    await waitFor("the first run's lock", async () => (await redis.exists(lock)) === 1);
    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(4);
    expect(second.stderr.trim().split("\n")).toHaveLength(1);
    expect(second.stderr).toContain(
      `another cleanup run holds the lock: pid ${first.child.pid} on `,
    );

    const checkpoint = `${p}jm:cleanup:checkpoint`;
    await killMidRun(redis, first, checkpoint, 200);
    const left = (await keysUnder(redis, `${p}ai:jobs:`)).length;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(1000);

    const resumed = await runCli([...args, "--json"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/took over the lock of a dead run: pid \d+/);
    expect(jsonOf(resumed).resumed).toBe(true);
    // Keys deleted by the killed run's last, unsaved batch are simply not seen again.
    expect(jsonOf(resumed).counts.deleted).toBeGreaterThan(1000 - 20 * 3);
    expect(jsonOf(resumed).counts.deleted).toBeLessThanOrEqual(1000);
    expect(await keysUnder(redis, `${p}ai:jobs:`)).toEqual([]);
    expect(await snapshotPrefix(redis, `${p}ai:job:`)).toEqual(newBefore);
    expect(await redis.exists(lock)).toBe(0);
  });
});
