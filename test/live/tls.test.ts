/**
 * rediss:// against a real TLS redis-server with a test CA: the CA flag makes it work,
 * and without it the certificate is refused with exit 3 and one line.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  findFreePort,
  startRedisServer,
  type RedisServerHandle,
} from "../../tools/redisProcess.js";
import { readHashBuffers, sameHash, seedOldJobs } from "../support/appTraffic.js";
import { jsonOf, prefixArgs, runCli, type CliResult } from "../support/cli.js";
import { keysUnder, snapshotPrefix } from "../support/keys.js";
import { uniquePrefix } from "../support/targets.js";

/** A CA and a server certificate for 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const openssl = (...args: string[]) => {
    try {
      execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    } catch (err) {
      throw new Error(`openssl failed (apt-get install -y openssl): ${String(err)}`);
    }
  };
  const subject = (cn: string) => ["-subj", `/CN=${cn}`];
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    ...subject("jm-test-ca"),
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    ...subject("127.0.0.1"),
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  );
  writeFileSync(join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.cnf",
    "-out",
    "server.pem",
  );
  return { ca: join(dir, "ca.pem"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
}

/** One clear line on stderr and the expected status. */
function expectOneLine(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^jobs-migrate: /);
  expect(lines[0]).toMatch(pattern);
}

describe("backfill over TLS (rediss://)", () => {
  let certDir: string;
  let files: { ca: string; cert: string; key: string };
  let server: RedisServerHandle;
  let tlsUrl: string;
  let redis: Redis;

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), "jm-tls-"));
    files = makeCertificates(certDir);
    const tlsPort = await findFreePort();
    // The plain port stays open for startRedisServer's PING readiness check and for seeding.
    server = await startRedisServer({
      extraArgs: [
        ...["--tls-port", String(tlsPort), "--tls-auth-clients", "no"],
        ...["--tls-cert-file", files.cert, "--tls-key-file", files.key],
        ...["--tls-ca-cert-file", files.ca],
      ],
    });
    tlsUrl = `rediss://127.0.0.1:${tlsPort}`;
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  it("copies every job when --tls-ca names the server's CA, and exits 0", async () => {
    const p = uniquePrefix("tls");
    const jobs = await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 40, workspaces: 3 });
    const overTls = (subcommand: string) =>
      runCli([subcommand, "--redis-url", tlsUrl, "--tls-ca", files.ca, ...prefixArgs(p), "--json"]);
    const r = await overTls("backfill");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/error|warning/i);
    expect(jsonOf(r).counts.copied).toBe(40);
    expect(jsonOf(r).redis).toBe(`${tlsUrl}/0`);
    for (const job of jobs) {
      const o = await readHashBuffers(redis, `${p}ai:jobs:${job.job_id}`);
      const n = await readHashBuffers(redis, `${p}ai:job:${job.workspace_id}:${job.job_id}`);
      expect(sameHash(o, n), job.job_id).toBe(true);
    }
    // verify reads pairs on a direct connection of its own (HLEN is sent only there): it
    // must speak TLS with the same CA too.
    await redis.config("RESETSTAT");
    const v = await overTls("verify");
    expect(v.code, v.stderr).toBe(0);
    expect(jsonOf(v).counts.equal).toBe(40);
    expect(await redis.info("commandstats")).toMatch(/cmdstat_hlen:calls=80,/);
  });

  it("refuses the unknown certificate without --tls-ca: exit 3, one line, nothing changed", async () => {
    const p = uniquePrefix("tls-noca");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 5, workspaces: 1 });
    const before = await snapshotPrefix(redis, p);
    const r = await runCli(["backfill", "--redis-url", tlsUrl, ...prefixArgs(p)]);
    expectOneLine(r, 3, /cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+\/0: .*certificate/i);
    expect(await snapshotPrefix(redis, p)).toEqual(before);
  });

  it("refuses a server whose certificate another CA signed: exit 3", async () => {
    const otherDir = mkdtempSync(join(tmpdir(), "jm-tls-other-"));
    try {
      const other = makeCertificates(otherDir);
      const p = uniquePrefix("tls-otherca");
      await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 3, workspaces: 1 });
      const r = await runCli([
        "backfill",
        "--redis-url",
        tlsUrl,
        "--tls-ca",
        other.ca,
        ...prefixArgs(p),
      ]);
      expectOneLine(r, 3, /cannot reach Redis at rediss:.*certificate/i);
      expect(await keysUnder(redis, `${p}ai:job:`)).toEqual([]);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it("connects without verification only when --tls-insecure is given", async () => {
    const p = uniquePrefix("tls-insecure");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 4, workspaces: 1 });
    const r = await runCli([
      "backfill",
      "--redis-url",
      tlsUrl,
      "--tls-insecure",
      ...prefixArgs(p),
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonOf(r).counts.copied).toBe(4);
  });

  it("keeps verifying the certificate when REDIS_TLS_INSECURE=false: exit 3", async () => {
    const p = uniquePrefix("tls-env-false");
    await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 3, workspaces: 1 });
    const r = await runCli(["backfill", "--redis-url", tlsUrl, ...prefixArgs(p)], {
      env: { REDIS_TLS_INSECURE: "false" },
    });
    expectOneLine(r, 3, /certificate/i);
    expect(await keysUnder(redis, `${p}ai:job:`)).toEqual([]);
  });

  it("reports an unreadable CA file as a usage error: exit 2", async () => {
    const missing = join(certDir, "missing.pem");
    const r = await runCli([
      "backfill",
      "--redis-url",
      tlsUrl,
      "--tls-ca",
      missing,
      ...prefixArgs(uniquePrefix("tls-missing")),
    ]);
    expectOneLine(r, 2, /cannot read TLS CA file .*missing\.pem/);
  });
});
