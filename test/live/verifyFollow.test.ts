/**
 * verify --follow (issue 14) on servers of its own (it changes notify-keyspace-events, a
 * server-wide setting): the application dual-writes with a bug injected at a known rate,
 * and follow must report exactly the pairs it broke, none else, across a CLIENT KILL of
 * its subscription (single instance) and a failover (a Cluster with replicas), with the
 * setting put back on exit; refusals and exit statuses.
 */
import { readFileSync } from "node:fs";
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWriter, type Writer } from "../../tools/bench/follow/appWriter.js";
import {
  startRedisCluster,
  startRedisServer,
  type RedisClusterHandle,
  type RedisServerHandle,
} from "../../tools/redisProcess.js";
import { jsonOf, prefixArgs, runCli, startCli, type CliResult } from "../support/cli.js";
import { masterPorts, nodeView, plannedFailover } from "../support/clusterOps.js";
import { tempFile } from "../support/divergences.js";
import { uniquePrefix } from "../support/targets.js";

const SETTING = "notify-keyspace-events";

/**
 * Start `verify --follow --enable-notifications --settle 1s` with `extra` (words split on
 * spaces); resolves once it follows (its stderr says so).
 */
async function startFollow(url: string, p: string, extra: string) {
  const args = [
    "verify",
    "--follow",
    "--enable-notifications",
    "--redis-url",
    url,
    ...prefixArgs(p),
  ];
  const cli = startCli([...args, "--settle", "1s", "--recheck-delay", "100", ...extra.split(" ")]);
  let stderr = "";
  cli.child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 15_000;
  while (!/following writes/.test(stderr)) {
    if (Date.now() > deadline || cli.child.exitCode !== null)
      throw new Error(`follow did not start: ${stderr}`);
    await sleep(50);
  }
  return { ...cli, stderr: () => stderr };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function writer(redis: Redis | Cluster, p: string, brokenEvery: number): Writer {
  return startWriter({
    redis,
    oldPrefix: `${p}ai:jobs:`,
    newPrefix: `${p}ai:job:`,
    callsPerSecond: 600,
    brokenEvery,
    concurrency: 16,
  });
}

/** A pair written whole, already divergent (old running, new pending): two HSETs. */
function brokenPair(p: string, id: string, ws = "ws-gap"): string[][] {
  const job = ["job_id", id, "workspace_id", ws, "action_name", "x"];
  return [
    ["hset", `${p}ai:jobs:${id}`, ...job, "status", "running"],
    ["hset", `${p}ai:job:${ws}:${id}`, ...job, "status", "pending"],
  ];
}

/** The old keys of the confirmed divergences in a --report file. */
function confirmedIn(report: string): string[] {
  return readFileSync(report, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { status: string; oldKey: string })
    .filter((r) => r.status === "confirmed")
    .map((r) => r.oldKey)
    .sort();
}

function expectExactly(r: CliResult, report: string, broken: Iterable<string>): void {
  const want = [...broken].sort();
  expect(want.length).toBeGreaterThan(5);
  expect(confirmedIn(report)).toEqual(want); // recall 100%, no false confirmed, each once
  const result = jsonOf(r);
  expect(result.counts.confirmed).toBe(want.length);
  expect(result.uncheckedAtExit).toBe(0);
  expect(result.counts.dropped).toBeUndefined();
  // Redaction: the jobs' params carry a "token"; no value of it reaches any output.
  expect(r.stdout + readFileSync(report, "utf8")).not.toMatch(/sk-\d/);
}

describe("verify --follow on a single instance", () => {
  let server: RedisServerHandle;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it("reports exactly the pairs a broken dual-write leaves, across a CLIENT KILL of its subscription, within settle + 2 s, and puts notify-keyspace-events back", async () => {
    const p = uniquePrefix("follow-kill");
    const report = tempFile("follow.jsonl");
    const f = await startFollow(server.url, p, `--for 7s --report ${report} --json`);
    expect(f.stderr()).toContain(`${SETTING} "" -> "ghK"`);
    const w = writer(redis, p, 40);
    await sleep(2500);
    const list = String(await redis.call("CLIENT", "LIST", "TYPE", "pubsub"));
    const id = /id=(\d+) [^\n]*name=jobs-migrate:follow/.exec(list)?.[1];
    expect(id).toBeDefined();
    // One pipeline, read by the server at once: the kill, then pairs broken while no
    // subscription exists (the reconnection is served only after the pipeline).
    const gap = ["gap-1", "gap-2", "gap-3", "gap-4", "gap-5"];
    await redis
      .pipeline([["client", "kill", "id", id!], ...gap.flatMap((g) => brokenPair(p, g))])
      .exec();
    await sleep(2000);
    const stats = await w.stop();
    const r = await f.done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/subscription on \S+ lost/);
    expect(r.stderr).toMatch(/catch-up on \S+ \(connection lost\)/);
    expectExactly(r, report, [...stats.broken.keys(), ...gap.map((g) => `${p}ai:jobs:${g}`)]);
    const lag = jsonOf(r).lagMs as { p99: number };
    expect(lag.p99).toBeLessThanOrEqual(1000 + 2000);
    expect(await redis.config("GET", SETTING)).toEqual([SETTING, ""]);
  });

  it("a correct dual-write for --for: exit 0, nothing confirmed, the setting it found kept", async () => {
    await redis.config("SET", SETTING, "Ex");
    const before = await redis.config("GET", SETTING);
    const p = uniquePrefix("follow-clean");
    const prom = tempFile("follow.prom");
    const f = await startFollow(
      server.url,
      p,
      `--for 3s --json --metrics-file ${prom} --progress-interval 1`,
    );
    const w = writer(redis, p, 0);
    await sleep(1500);
    // Rewritten while it runs, not only at the end.
    expect(readFileSync(prom, "utf8")).toMatch(
      /^jobs_migrate_follow_events_total\{scope="follow:all"\} \d+/m,
    );
    await w.stop();
    const r = await f.done;
    expect(r.code, r.stderr).toBe(0);
    const result = jsonOf(r);
    expect(result.clean).toBe(true);
    expect(result.counts.confirmed).toBeUndefined();
    expect(result.counts.checked).toBeGreaterThan(50);
    expect(result.counts.equal).toBe(result.counts.checked);
    expect(await redis.config("GET", SETTING)).toEqual(before);
    await redis.config("SET", SETTING, "");
    const text = readFileSync(prom, "utf8");
    const checked = new RegExp(
      `jobs_migrate_follow_pairs_total\\{outcome="checked",scope="follow:all"\\} ${result.counts.checked}\\b`,
    );
    expect(text).toMatch(checked);
    expect(text).toMatch(/^jobs_migrate_follow_lag_seconds_count\{scope="follow:all"\} [1-9]/m);
  });

  it("SIGINT: exit 130 with the session's summary; --workspace and --repair as in verify", async () => {
    const p = uniquePrefix("follow-sigint");
    const f = await startFollow(server.url, p, `--workspace ws-gap --repair`);
    await redis.pipeline([...brokenPair(p, "one"), ...brokenPair(p, "other", "ws-other")]).exec();
    await sleep(2000);
    f.child.kill("SIGINT");
    const r = await f.done;
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/verify --follow on .* \(interrupted\): NOT CLEAN/);
    expect(r.stdout).toMatch(/confirmed\s+1 /);
    expect(r.stdout).toMatch(/repaired\s+1\n/);
    expect(r.stdout).toMatch(/outOfScope\s+1\n/);
    expect(await redis.hget(`${p}ai:job:ws-gap:one`, "status")).toBe("running");
    expect(await redis.hget(`${p}ai:job:ws-other:other`, "status")).toBe("pending");
    expect(await redis.config("GET", SETTING)).toEqual([SETTING, ""]);
  });

  it("refuses, one line, exit 2, config unchanged: notifications off without --enable-notifications, an ACL user without +config, bad flags", async () => {
    const p = uniquePrefix("follow-refuse");
    const base = ["verify", "--redis-url", server.url, ...prefixArgs(p)];
    const off = await runCli([...base, "--follow", "--for", "2s"]);
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(
      /keyspace notifications are off .*notify-keyspace-events.*--enable-notifications/,
    );

    const password = "s3cret-follow-pw";
    await redis.call(
      "ACL",
      "SETUSER",
      "nocfg",
      "on",
      `>${password}`,
      "~*",
      "&*",
      "+@all",
      "-config",
    );
    const url = server.url.replace("redis://", `redis://nocfg:${password}@`);
    const acl = await runCli([
      "verify",
      "--redis-url",
      url,
      ...prefixArgs(p),
      "--follow",
      "--enable-notifications",
      "--for",
      "2s",
    ]);
    expect(acl.code).toBe(2);
    expect(acl.stderr.trim().split("\n")).toHaveLength(1);
    expect(acl.stderr).toMatch(/notify-keyspace-events/);
    expect(acl.stderr + acl.stdout).not.toContain(password);
    expect(await redis.config("GET", SETTING)).toEqual([SETTING, ""]);

    for (const bad of [
      ["--follow", "--for", "10x"],
      ["--settle", "1s"],
      ["--for", "5m"],
      ["--follow", "--read-from", "replicas"],
      ["--follow", "--sample", "1000"],
      ["--follow", "--restart"],
    ]) {
      const r = await runCli([...base, ...bad]);
      expect(r.code, bad.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), bad.join(" ")).toHaveLength(1);
    }
  });
});

describe("verify --follow on a 3-master Cluster with replicas", () => {
  let c: RedisClusterHandle;
  let redis: Cluster;
  beforeAll(async () => {
    c = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 2000 });
    redis = new Cluster([c.nodes[0]!]);
  });
  afterAll(async () => {
    redis?.disconnect();
    await c?.stop();
  });

  it("reports exactly the broken pairs across a failover, pairs broken on the new master before it is followed included, and puts the setting back on every node", async () => {
    const p = uniquePrefix("follow-failover");
    const report = tempFile("follow.jsonl");
    const f = await startFollow(c.url, p, `--for 9s --report ${report} --json`);
    const w = writer(redis, p, 40);
    await sleep(1500);
    const [port] = await masterPorts(c);
    const slots = new Set((await nodeView(port!)).self.slots);
    await plannedFailover(c, port!);
    // Pairs whose old key lives on the promoted master, written as soon as it took over.
    const gap: string[] = [];
    for (let n = 0; gap.length < 5; n++)
      if (slots.has(calculateSlot(`${p}ai:jobs:fo-${n}`))) gap.push(`fo-${n}`);
    for (const g of gap)
      for (const cmd of brokenPair(p, g)) await redis.call(cmd[0]!, ...cmd.slice(1));
    await sleep(2000);
    const stats = await w.stop();
    const r = await f.done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/new master/);
    expect(r.stderr).toMatch(/catch-up on \S+ \(new master/);
    expectExactly(r, report, [...stats.broken.keys(), ...gap.map((g) => `${p}ai:jobs:${g}`)]);
    for (const s of [...c.servers, ...c.replicaServers]) {
      const node = new Redis(s.port, s.host);
      expect(await node.config("GET", SETTING), `${s.port}`).toEqual([SETTING, ""]);
      node.disconnect();
    }
  });
});
