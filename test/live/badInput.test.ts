import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort, startRedisCluster, startRedisServer } from "../../tools/redisProcess.js";
import { seedOldJobs } from "../support/appTraffic.js";
import { checkpointProgress, waitFor } from "../support/checkpoint.js";
import { prefixArgs, runCli, startCli, type CliResult } from "../support/cli.js";
import { snapshotPrefix } from "../support/keys.js";
import { connect, uniquePrefix, type RedisClient } from "../support/targets.js";

const PASSWORD = "s3cret-Pa55word";

/** One clear line on stderr, no stack trace, no secret. */
function expectOneLine(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^jobs-migrate: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  expect(r.stdout + r.stderr).not.toContain(PASSWORD);
}

// Each topology gets its own password-protected deployment, so a wrong password can be
// tried without touching the shared servers' configuration.
const deployments = [
  {
    name: "single",
    start: async () => {
      const s = await startRedisServer({ extraArgs: ["--requirepass", PASSWORD] });
      return { port: s.port, stop: () => s.stop() };
    },
  },
  {
    name: "cluster",
    start: async () => {
      const c = await startRedisCluster({ password: PASSWORD });
      return { port: c.nodes[0]!.port, stop: () => c.stop() };
    },
  },
];

describe.each(deployments)("bad input on $name", ({ name, start }) => {
  let server: { port: number; stop(): Promise<void> };
  let url: string;
  let redis: RedisClient;
  let p: string;
  let before: Map<string, string>;

  beforeAll(async () => {
    server = await start();
    url = `redis://default:${PASSWORD}@127.0.0.1:${server.port}`;
    redis = connect({ name: name as "single" | "cluster", url, cluster: name === "cluster" });
    p = uniquePrefix("bad");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 50, workspaces: 2 });
    before = await snapshotPrefix(redis, p);
  });
  afterAll(async () => {
    // Whatever each case did, nothing under the test's prefix changed.
    expect(await snapshotPrefix(redis, p)).toEqual(before);
    await redis.quit();
    await server.stop();
  });

  const backfill = (...args: string[]) => runCli(["backfill", ...prefixArgs(p), ...args]);

  it("malformed URLs: exit 2", async () => {
    expectOneLine(await backfill("--redis-url", "not a url"), 2, /invalid Redis URL/);
    expectOneLine(
      await backfill("--redis-url", `http://u:${PASSWORD}@127.0.0.1:1`),
      2,
      /scheme must be redis/,
    );
    expectOneLine(
      await backfill("--redis-url", `redis://u:${PASSWORD}@127.0.0.1:99999`),
      2,
      /invalid Redis URL/,
    );
    expectOneLine(
      await backfill("--redis-url", `redis://127.0.0.1:${server.port}/x`),
      2,
      /database must be a number/,
    );
  });

  it("no URL at all: exit 2 saying where to put one", async () => {
    expectOneLine(await backfill(), 2, /no Redis URL: pass --redis-url or set REDIS_URL/);
  });

  it("an unreachable host: exit 3", async () => {
    const port = await findFreePort();
    expectOneLine(
      await backfill("--redis-url", `redis://u:${PASSWORD}@127.0.0.1:${port}`),
      3,
      /cannot reach Redis at redis:\/\/u@127\.0\.0\.1/,
    );
  });

  it("a wrong password: exit 3, and neither password is printed", async () => {
    const r = await backfill(
      "--redis-url",
      `redis://default:wrong-${PASSWORD}@127.0.0.1:${server.port}`,
    );
    expectOneLine(r, 3, /authentication failed/);
    expect(r.stderr).not.toContain("wrong-");
    const none = await backfill("--redis-url", `redis://127.0.0.1:${server.port}`);
    expectOneLine(none, 3, /authentication failed/);
  });

  it("unknown options and bad numbers: exit 2", async () => {
    expectOneLine(await backfill("--redis-url", url, "--bogus"), 2, /unknown option '--bogus'/);
    expectOneLine(
      await backfill("--redis-url", url, "--batch-size", "0"),
      2,
      /--batch-size must be an integer from 1 to 10000 \(got "0"\)/,
    );
    expectOneLine(
      await backfill("--redis-url", url, "--batch-size", "abc"),
      2,
      /--batch-size must be an integer/,
    );
    expectOneLine(
      await backfill("--redis-url", url, "--rate", "-5"),
      2,
      /--rate must be an integer/,
    );
    expectOneLine(
      await backfill("--redis-url", url, "--lock-ttl", "1.5"),
      2,
      /--lock-ttl must be an integer/,
    );
    expectOneLine(
      await runCli([
        "backfill",
        "--redis-url",
        url,
        "--old-prefix",
        "ai:job:",
        "--new-prefix",
        "ai:job:ws",
      ]),
      2,
      /overlap/,
    );
    expectOneLine(await runCli(["frobnicate"]), 2, /unknown command 'frobnicate'/);
  });

  it("with --json, an error is also JSON on stdout", async () => {
    const r = await backfill("--redis-url", url, "--batch-size", "x", "--json");
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      error: { message: expect.stringMatching(/--batch-size/), exitCode: 2 },
    });
  });

  it("a checkpoint made with other options is refused with exit 2 until --restart", async () => {
    const q = uniquePrefix("other-opts");
    await seedOldJobs(redis, { oldPrefix: `${q}ai:jobs:`, count: 400, workspaces: 2 });
    const first = startCli([
      "backfill",
      "--redis-url",
      url,
      ...prefixArgs(q),
      "--batch-size",
      "10",
      "--rate",
      "200",
    ]);
    await waitFor(
      "progress",
      async () => (await checkpointProgress(redis, `${q}jm:backfill:checkpoint`)).scanned > 0,
    );
    first.child.kill("SIGTERM");
    expect((await first.done).code).toBe(130);
    const saved = await snapshotPrefix(redis, q);
    const other = [
      "backfill",
      "--redis-url",
      url,
      "--old-prefix",
      `${q}ai:jobs:`,
      "--new-prefix",
      `${q}v2:job:`,
      "--state-prefix",
      `${q}jm:`,
    ];
    expectOneLine(
      await runCli(other),
      2,
      /was made with other options .* add --restart to start over/,
    );
    expect(await snapshotPrefix(redis, q)).toEqual(saved);
    const restarted = await runCli([...other, "--restart"]);
    expect(restarted.code).toBe(0);
    expect(restarted.stdout).not.toContain(PASSWORD);
  });
});
