/**
 * Redis Sentinel: the tool finds the master through Sentinels, named by a
 * redis+sentinel:// URL or by --sentinel with --sentinel-master, with and without passwords
 * (the master's and the Sentinels' own, each where it belongs, neither ever printed); what
 * cannot work is one line with exit 2 or 3. Each deployment (one master, two replicas, three
 * Sentinels) is this file's own, from tools/redisSentinel.ts; so is the failover it proves.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort, startRedisSentinel } from "../../tools/redisProcess.js";
import type { RedisSentinelHandle } from "../../tools/redisProcess.js";
import { readHashBuffers, sameHash, seedOldJobs, startTraffic } from "../support/appTraffic.js";
import type { JobRef } from "../support/appTraffic.js";
import { checkpointProgress, waitFor } from "../support/checkpoint.js";
import { jsonOf, prefixArgs, runCli, startCli, type CliResult } from "../support/cli.js";
import { keysUnder, snapshotPrefix } from "../support/keys.js";
import { uniquePrefix } from "../support/targets.js";

const JOBS = 2000;

/** A client that follows the master the Sentinels name (and a failover, as the tool does). */
function sentinelClient(h: RedisSentinelHandle, password?: string, sentinelPassword?: string) {
  return new Redis({
    sentinels: h.sentinels,
    name: h.masterName,
    password,
    sentinelPassword,
    failoverDetector: true,
  });
}

/** A client of one data node, directly. */
function nodeClient(port: number, password?: string) {
  return new Redis({ host: "127.0.0.1", port, password });
}

/** Every seeded job's new key equals its old key, byte for byte; and nothing else is new. */
async function expectAllCopied(redis: Redis, p: string, jobs: JobRef[]): Promise<void> {
  for (const job of jobs) {
    const o = await readHashBuffers(redis, `${p}ai:jobs:${job.job_id}`);
    const n = await readHashBuffers(redis, `${p}ai:job:${job.workspace_id}:${job.job_id}`);
    expect(o.size).toBeGreaterThan(0);
    expect(sameHash(o, n), job.job_id).toBe(true);
  }
  expect(await keysUnder(redis, `${p}ai:job:`)).toHaveLength(jobs.length);
}

/** One clear line on stderr with the documented status, and no secret anywhere. */
function expectOneLine(r: CliResult, code: number, pattern: RegExp, secrets: string[] = []) {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^jobs-migrate: /);
  expect(lines[0]).toMatch(pattern);
  for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s);
}

/** `h1:p1,h2:p2,h3:p3`, as --sentinel takes it. */
const sentinelList = (h: RedisSentinelHandle) =>
  h.sentinels.map((s) => `${s.host}:${s.port}`).join(",");

describe("Sentinel without passwords", () => {
  let h: RedisSentinelHandle;
  let redis: Redis;
  beforeAll(async () => {
    h = await startRedisSentinel();
    redis = sentinelClient(h);
  });
  afterAll(async () => {
    redis?.disconnect();
    await h?.stop();
  });

  it("backfill through redis+sentinel:// copies every job to the master and exits 0", async () => {
    const p = uniquePrefix("sentinel-url");
    const jobs = await seedOldJobs(redis, {
      oldPrefix: `${p}ai:jobs:`,
      count: JOBS,
      workspaces: 5,
    });
    const r = await runCli(["backfill", "--redis-url", h.url, ...prefixArgs(p), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const result = jsonOf(r);
    expect(result).toMatchObject({ mode: "atomic", redis: `${h.url}/0` });
    expect(result.counts.copied).toBe(JOBS);
    await expectAllCopied(redis, p, jobs);
    // Written on the master the Sentinels name (a replica would have refused the writes).
    const master = nodeClient((await h.master()).port);
    try {
      expect(await master.exists(`${p}ai:job:${jobs[0]!.workspace_id}:${jobs[0]!.job_id}`)).toBe(1);
    } finally {
      master.disconnect();
    }
  });

  it("backfill through --sentinel and --sentinel-master does the same", async () => {
    const p = uniquePrefix("sentinel-flags");
    const jobs = await seedOldJobs(redis, {
      oldPrefix: `${p}ai:jobs:`,
      count: JOBS,
      workspaces: 5,
    });
    const r = await runCli([
      "backfill",
      "--sentinel",
      sentinelList(h),
      "--sentinel-master",
      h.masterName,
      ...prefixArgs(p),
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOf(r).counts.copied).toBe(JOBS);
    expect(jsonOf(r).redis).toBe(`${h.url}/0`);
    await expectAllCopied(redis, p, jobs);
  });

  it("no Sentinel that knows the master, or none at all, is exit 3 in one line", async () => {
    const p = uniquePrefix("sentinel-bad");
    const [free1, free2] = [await findFreePort(), await findFreePort()];
    const unreachable = await runCli([
      "backfill",
      "--sentinel",
      `127.0.0.1:${free1},127.0.0.1:${free2}`,
      "--sentinel-master",
      h.masterName,
      ...prefixArgs(p),
    ]);
    expectOneLine(
      unreachable,
      3,
      new RegExp(
        `cannot reach any sentinel at 127\\.0\\.0\\.1:${free1},127\\.0\\.0\\.1:${free2}: .*ECONNREFUSED`,
      ),
    );

    const unknown = await runCli([
      "backfill",
      "--redis-url",
      `${h.url.replace(/\/[^/]+$/, "/nosuch")}`,
      ...prefixArgs(p),
    ]);
    expectOneLine(
      unknown,
      3,
      new RegExp(`no sentinel at ${sentinelList(h).replace(/\./g, "\\.")} knows master nosuch$`),
    );

    // One Sentinel down: the others are named as asked, the dead one as unreachable.
    const partly = await runCli([
      "backfill",
      "--sentinel",
      `${h.sentinels[0]!.host}:${h.sentinels[0]!.port},127.0.0.1:${free1}`,
      "--sentinel-master",
      "nosuch",
      ...prefixArgs(p),
    ]);
    expectOneLine(
      partly,
      3,
      new RegExp(
        `no sentinel at 127\\.0\\.0\\.1:${h.sentinels[0]!.port} knows master nosuch; 127\\.0\\.0\\.1:${free1} unreachable`,
      ),
    );

    // A data node given as a Sentinel.
    const dataPort = h.servers[0]!.port;
    const notSentinel = await runCli([
      "backfill",
      "--sentinel",
      `127.0.0.1:${dataPort}`,
      "--sentinel-master",
      h.masterName,
      ...prefixArgs(p),
    ]);
    expectOneLine(
      notSentinel,
      3,
      new RegExp(`127\\.0\\.0\\.1:${dataPort} is not a Redis Sentinel`),
    );
    expect(await keysUnder(redis, p)).toEqual([]);
  });

  it("conflicting ways to name Redis, and --cluster, are exit 2 in one line", async () => {
    const p = uniquePrefix("sentinel-usage");
    const flags = ["--sentinel", sentinelList(h), "--sentinel-master", h.masterName];
    expectOneLine(
      await runCli(["backfill", "--redis-url", h.url, ...flags, ...prefixArgs(p)]),
      2,
      /--sentinel and --redis-url both say where Redis is/,
    );
    expectOneLine(
      await runCli(["backfill", ...flags, ...prefixArgs(p)], { env: { REDIS_URL: h.url } }),
      2,
      /--sentinel and REDIS_URL both say where Redis is/,
    );
    expectOneLine(
      await runCli(["backfill", "--sentinel", sentinelList(h), ...prefixArgs(p)]),
      2,
      /--sentinel needs --sentinel-master <name>/,
    );
    expectOneLine(
      await runCli(["backfill", "--redis-url", h.url, "--cluster", ...prefixArgs(p)]),
      2,
      /--cluster cannot be used with Sentinel/,
    );
    expect(await keysUnder(redis, p)).toEqual([]);
  });

  // Last in this deployment: the roles change.
  it("failover(): a new master with every key intact, and the tool follows it", async () => {
    const p = uniquePrefix("sentinel-failover");
    const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 500, workspaces: 3 });
    const r = await runCli(["backfill", "--redis-url", h.url, ...prefixArgs(p), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const oldMaster = await h.master();
    const first = nodeClient(oldMaster.port);
    // The jobs' keys (the tool's own state hashes may list their fields in another order).
    const before = await snapshotPrefix(first, `${p}ai:`).finally(() => first.disconnect());
    expect(before.size).toBe(1000);

    const { newMasterPort, oldMasterPort } = await h.failover();
    expect(oldMasterPort).toBe(oldMaster.port);
    expect(newMasterPort).not.toBe(oldMaster.port);
    expect((await h.master()).port).toBe(newMasterPort);
    const promoted = nodeClient(newMasterPort);
    try {
      expect(((await promoted.call("ROLE")) as unknown[])[0]).toBe("master");
      expect(await snapshotPrefix(promoted, `${p}ai:`)).toEqual(before);
      await expectAllCopied(promoted, p, jobs);
    } finally {
      promoted.disconnect();
    }

    // Through the same Sentinels, the tool now works on the new master.
    const v = await runCli([
      "verify",
      "--sentinel",
      sentinelList(h),
      "--sentinel-master",
      h.masterName,
      ...prefixArgs(p),
      "--json",
    ]);
    expect(v.code, v.stderr).toBe(0);
    expect(jsonOf(v).counts.equal).toBe(500);
    const p2 = uniquePrefix("sentinel-after");
    const direct = nodeClient(newMasterPort);
    try {
      const more = await seedOldJobs(direct, {
        oldPrefix: `${p2}ai:jobs:`,
        count: 200,
        workspaces: 2,
      });
      const b = await runCli(["backfill", "--redis-url", h.url, ...prefixArgs(p2), "--json"]);
      expect(b.code, b.stderr).toBe(0);
      expect(jsonOf(b).counts.copied).toBe(200);
      await expectAllCopied(direct, p2, more);
    } finally {
      direct.disconnect();
    }
  });
  it("SENTINEL FAILOVER mid-backfill: the run follows the new master, rescans, and copies every job", async () => {
    const p = uniquePrefix("sentinel-midrun");
    const jobs = await seedOldJobs(redis, {
      oldPrefix: `${p}ai:jobs:`,
      count: 6000,
      workspaces: 4,
    });
    // The application keeps writing through the failover (to the last 300 jobs).
    const traffic = startTraffic({
      redis,
      oldPrefix: `${p}ai:jobs:`,
      newPrefix: `${p}ai:job:`,
      queueKey: `${p}queue`,
      flagOn: true,
      jobs: jobs.slice(-300),
      concurrency: 3,
      // No new jobs: writes the old master takes after the Sentinels promoted another
      // (until it learns it is a replica) are lost, and an enqueue lost that way leaves a
      // partial old hash behind (rightly reported unmigratable, exit 1) – the app's loss.
      newJobsPerSecond: 0,
    });
    const args = ["backfill", "--redis-url", h.url, ...prefixArgs(p), "--batch-size", "50"];
    const run = startCli([...args, "--rate", "400", "--settle-timeout", "60s"]);
    await waitFor(
      "backfill progress",
      async () => (await checkpointProgress(redis, `${p}jm:backfill:checkpoint`)).scanned >= 800,
      30_000,
    );
    const { newMasterPort } = await h.failover();
    expect(run.child.exitCode, "the run ended before the failover did").toBeNull();
    const done = await run.done;
    await traffic.stop();
    expect(done.code, done.stderr + done.stdout).toBe(0);
    expect(done.stderr, done.stdout).toMatch(
      new RegExp(
        `failed over from \\S+ to 127\\.0\\.0\\.1:${newMasterPort}.*rescanned from the start`,
      ),
    );
    const promoted = nodeClient(newMasterPort);
    try {
      for (const job of jobs.slice(0, -300)) {
        const o = await readHashBuffers(promoted, `${p}ai:jobs:${job.job_id}`);
        const n = await readHashBuffers(promoted, `${p}ai:job:${job.workspace_id}:${job.job_id}`);
        expect(sameHash(o, n), job.job_id).toBe(true);
      }
      for (const job of jobs.slice(-300))
        expect(await promoted.exists(`${p}ai:job:${job.workspace_id}:${job.job_id}`)).toBe(1);
    } finally {
      promoted.disconnect();
    }
  });
});

describe("Sentinel with passwords (the master's, and the Sentinels' own)", () => {
  const DATA_PW = "data-Pa55word-7Q";
  const SENTINEL_PW = "sentinel-Pa55word-9Z";
  const SECRETS = [DATA_PW, SENTINEL_PW, encodeURIComponent(DATA_PW)];
  let h: RedisSentinelHandle;
  let redis: Redis;
  let urlWithPassword: string;
  beforeAll(async () => {
    h = await startRedisSentinel({ password: DATA_PW, sentinelPassword: SENTINEL_PW });
    redis = sentinelClient(h, DATA_PW, SENTINEL_PW);
    urlWithPassword = h.url.replace("://", `://default:${DATA_PW}@`);
  });
  afterAll(async () => {
    redis?.disconnect();
    await h?.stop();
  });

  it("URL password for the master, REDIS_SENTINEL_PASSWORD for the Sentinels: exit 0, neither printed", async () => {
    const p = uniquePrefix("sentinel-auth-url");
    const jobs = await seedOldJobs(redis, {
      oldPrefix: `${p}ai:jobs:`,
      count: JOBS,
      workspaces: 4,
    });
    const r = await runCli(
      ["backfill", "--redis-url", urlWithPassword, ...prefixArgs(p), "--json"],
      {
        env: { REDIS_SENTINEL_PASSWORD: SENTINEL_PW },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOf(r).counts.copied).toBe(JOBS);
    expect(jsonOf(r).redis).toBe(`${h.url.replace("://", "://default@")}/0`);
    for (const s of SECRETS) expect(r.stdout + r.stderr).not.toContain(s);
    await expectAllCopied(redis, p, jobs);
  });

  it("--sentinel flags with REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD: exit 0, neither printed", async () => {
    const p = uniquePrefix("sentinel-auth-flags");
    const jobs = await seedOldJobs(redis, {
      oldPrefix: `${p}ai:jobs:`,
      count: JOBS,
      workspaces: 4,
    });
    const r = await runCli(
      [
        "backfill",
        "--sentinel",
        sentinelList(h),
        "--sentinel-master",
        h.masterName,
        ...prefixArgs(p),
      ],
      { env: { REDIS_PASSWORD: DATA_PW, REDIS_SENTINEL_PASSWORD: SENTINEL_PW } },
    );
    expect(r.code, r.stderr).toBe(0);
    for (const s of SECRETS) expect(r.stdout + r.stderr).not.toContain(s);
    await expectAllCopied(redis, p, jobs);
  });

  it("a wrong or missing password is exit 3 in one line saying whose, and prints none", async () => {
    const p = uniquePrefix("sentinel-auth-bad");
    const wrong = "wrong-Pa55word-3X";
    const secrets = [...SECRETS, wrong];
    const run = (url: string, env: Record<string, string>) =>
      runCli(["backfill", "--redis-url", url, ...prefixArgs(p), "--json"], { env });

    const noSentinelPw = await run(urlWithPassword, {});
    expectOneLine(
      noSentinelPw,
      3,
      /authentication failed at sentinel 127\.0\.0\.1:\d+: check REDIS_SENTINEL_PASSWORD/,
      secrets,
    );
    const badSentinelPw = await run(urlWithPassword, { REDIS_SENTINEL_PASSWORD: wrong });
    expectOneLine(badSentinelPw, 3, /authentication failed at sentinel/, secrets);
    // The Sentinels' password is not the master's: given as the URL's, the master refuses it.
    const swapped = await run(h.url.replace("://", `://:${SENTINEL_PW}@`), {
      REDIS_SENTINEL_PASSWORD: SENTINEL_PW,
    });
    expectOneLine(
      swapped,
      3,
      /authentication failed at redis\+sentinel:\/\/127\.0\.0\.1:\d+,.*\/mymaster\/0: check the user and password/,
      secrets,
    );
    // With --json, the error is on stdout too: still no password.
    expect(JSON.parse(swapped.stdout.trim())).toMatchObject({ error: { exitCode: 3 } });

    const unknown = await run(urlWithPassword.replace(/\/mymaster$/, "/nosuch"), {
      REDIS_SENTINEL_PASSWORD: SENTINEL_PW,
    });
    expectOneLine(unknown, 3, /no sentinel at .* knows master nosuch$/, secrets);
    expect(await keysUnder(redis, p)).toEqual([]);
  });
});
