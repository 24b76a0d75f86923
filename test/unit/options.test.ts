import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { commandSchema } from "../../src/cli/options/connection.js";
import { parseOptions } from "../../src/cli/options/fields.js";
import { addRunCommandOptions, runCommandShape } from "../../src/cli/options/run.js";
import { UsageError } from "../../src/errors.js";

// Variables commander reads as option fallbacks: a developer's shell must not leak in.
const ENV_VARS = [
  "REDIS_URL",
  "JOBS_MIGRATE_CLUSTER",
  "REDIS_TLS_CA",
  "REDIS_TLS_CERT",
  "REDIS_TLS_KEY",
  "REDIS_TLS_INSECURE",
  "JOBS_MIGRATE_OLD_PREFIX",
  "JOBS_MIGRATE_NEW_PREFIX",
  "JOBS_MIGRATE_STATE_PREFIX",
  "JOBS_MIGRATE_BATCH_SIZE",
  "JOBS_MIGRATE_RATE",
  "JOBS_MIGRATE_LOCK_TTL_MS",
  "JOBS_MIGRATE_LOG_FORMAT",
];

beforeEach(() => {
  for (const name of ENV_VARS) vi.stubEnv(name, undefined);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

// The options of a SCAN run subcommand (backfill, verify, cleanup): connection, budget, run.
const commonSchema = commandSchema(runCommandShape);

/** The raw options commander hands to an action for these arguments. */
function rawFrom(args: string[]): Record<string, unknown> {
  const cmd = addRunCommandOptions(new Command("test").exitOverride());
  cmd.parse(args, { from: "user" });
  return cmd.opts();
}

const URL_ARGS = ["--redis-url", "redis://127.0.0.1:1"];
const parse = (...args: string[]) => parseOptions(commonSchema, rawFrom([...URL_ARGS, ...args]));

/** The UsageError for these arguments: exit 2 and a single line. */
function usageError(args: string[]): string {
  let caught: unknown;
  try {
    parseOptions(commonSchema, rawFrom(args));
  } catch (err) {
    caught = err;
  }
  expect(caught, `no error for ${args.join(" ")}`).toBeInstanceOf(UsageError);
  const { exitCode, message } = caught as UsageError;
  expect(exitCode).toBe(2);
  expect(message).not.toContain("\n");
  return message;
}

describe("commonSchema defaults", () => {
  it("gives the app's prefixes and safe throttling defaults, as numbers", () => {
    expect(parse()).toEqual({
      redisUrl: "redis://127.0.0.1:1",
      cluster: false,
      tlsCa: undefined,
      tlsCert: undefined,
      tlsKey: undefined,
      tlsInsecure: false,
      oldPrefix: "ai:jobs:",
      newPrefix: "ai:job:",
      statePrefix: "jobs-migrate:",
      logFormat: "text",
      batchSize: 500,
      rate: 0,
      lockTtl: 30000,
      listLimit: 20,
      progressInterval: 10,
      targetBatchMs: undefined,
      maxCommandMs: 1,
      maxLatency: undefined,
      maxMemory: undefined,
      maxReplicaLag: undefined,
      maxOps: undefined,
      maxPause: 3_600_000,
      settleTimeout: 120_000,
      restart: false,
      json: false,
    });
  });

  it("reads the URL and numbers from the environment when no flag is given", () => {
    vi.stubEnv("REDIS_URL", "redis://from-env:6390");
    vi.stubEnv("JOBS_MIGRATE_BATCH_SIZE", "250");
    vi.stubEnv("JOBS_MIGRATE_CLUSTER", "yes");
    const o = parseOptions(commonSchema, rawFrom([]));
    expect(o).toMatchObject({ redisUrl: "redis://from-env:6390", batchSize: 250, cluster: true });
  });

  it("treats a false-like boolean variable as off (REDIS_TLS_INSECURE=false keeps TLS checks)", () => {
    vi.stubEnv("JOBS_MIGRATE_CLUSTER", "0");
    vi.stubEnv("REDIS_TLS_INSECURE", "false");
    expect(parse()).toMatchObject({ cluster: false, tlsInsecure: false });
  });

  it("turns boolean flags on from the command line", () => {
    expect(parse("--cluster", "--tls-insecure", "--restart", "--json")).toMatchObject({
      cluster: true,
      tlsInsecure: true,
      restart: true,
      json: true,
    });
  });
});

describe("integer bounds", () => {
  it.each([
    ["--batch-size", "1", 1],
    ["--batch-size", "10000", 10000],
    ["--rate", "0", 0],
    ["--rate", "2500", 2500],
    ["--lock-ttl", "200", 200],
  ])("accepts %s %s", (flag, value, expected) => {
    const key = { "--batch-size": "batchSize", "--rate": "rate", "--lock-ttl": "lockTtl" }[flag]!;
    expect((parse(flag, value) as Record<string, unknown>)[key]).toBe(expected);
  });

  it.each([
    ["--batch-size", "0", "--batch-size must be an integer from 1 to 10000"],
    ["--batch-size", "10001", "--batch-size must be an integer from 1 to 10000"],
    ["--rate", "-1", "--rate must be an integer from 0 to"],
    ["--lock-ttl", "199", "--lock-ttl must be an integer from 200 to"],
    ["--batch-size", "1e3", "--batch-size must be an integer"],
    ["--batch-size", "12abc", "--batch-size must be an integer"],
    ["--batch-size", "0x10", "--batch-size must be an integer"],
    ["--batch-size", "+5", "--batch-size must be an integer"],
    ["--batch-size", "5.0", "--batch-size must be an integer"],
    ["--batch-size", "", "--batch-size must be an integer"],
    ["--batch-size", " 5", "--batch-size must be an integer"],
    ["--batch-size", "5 ", "--batch-size must be an integer"],
    ["--rate", "99999999999999999999", "--rate must be an integer"],
    ["--lock-ttl", "30s", "--lock-ttl must be an integer"],
  ])("rejects %s %j with one line naming the flag", (flag, value, message) => {
    const msg = usageError([...URL_ARGS, flag, value]);
    expect(msg).toContain(message);
    expect(msg).toContain(`(got "${value}")`);
  });
});

describe("prefixes", () => {
  it("rejects old and new prefixes where one is a prefix of the other", () => {
    const msg = usageError([...URL_ARGS, "--old-prefix", "app:", "--new-prefix", "app:v2:"]);
    expect(msg).toMatch(/--old-prefix "app:" and --new-prefix "app:v2:" overlap/);
  });

  it("rejects identical old and new prefixes", () => {
    expect(usageError([...URL_ARGS, "--old-prefix", "x:", "--new-prefix", "x:"])).toMatch(
      /overlap/,
    );
  });

  it("rejects a state prefix that overlaps a job prefix", () => {
    const msg = usageError([...URL_ARGS, "--state-prefix", "ai:"]);
    expect(msg).toMatch(/--state-prefix "ai:" overlaps the job prefix "ai:jobs:"/);
  });

  it("rejects an empty prefix or one with whitespace, naming the flag", () => {
    expect(usageError([...URL_ARGS, "--old-prefix", ""])).toBe("--old-prefix must not be empty");
    expect(usageError([...URL_ARGS, "--new-prefix", "a b:"])).toBe(
      "--new-prefix must not contain spaces",
    );
  });

  it("accepts distinct custom prefixes", () => {
    const o = parse("--old-prefix", "v1:job:", "--new-prefix", "v2:job:", "--state-prefix", "m:");
    expect(o).toMatchObject({ oldPrefix: "v1:job:", newPrefix: "v2:job:", statePrefix: "m:" });
  });
});

describe("missing Redis URL", () => {
  it("says where a URL can come from", () => {
    expect(usageError([])).toBe(
      "no Redis URL: pass --redis-url or set REDIS_URL (environment or .env), or --sentinel with --sentinel-master",
    );
  });
});

describe("where Redis is: --redis-url or --sentinel with --sentinel-master", () => {
  const sentinelArgs = ["--sentinel", "10.0.0.5:26379,[::1],s3.internal:26380"];
  const masterArgs = ["--sentinel-master", "mymaster"];

  it("takes the Sentinels and the master name instead of a URL (port 26379 by default)", () => {
    const o = parseOptions(commonSchema, rawFrom([...sentinelArgs, ...masterArgs]));
    expect(o.redisUrl).toBeUndefined();
    expect(o.sentinelMaster).toBe("mymaster");
    expect(o.sentinel).toEqual([
      { host: "10.0.0.5", port: 26379 },
      { host: "::1", port: 26379 },
      { host: "s3.internal", port: 26380 },
    ]);
  });

  it("needs both flags, each naming what is missing", () => {
    expect(usageError(sentinelArgs)).toBe("--sentinel needs --sentinel-master <name>");
    expect(usageError(masterArgs)).toBe("--sentinel-master needs --sentinel <host:port,…>");
  });

  it("refuses --sentinel beside --redis-url, or beside REDIS_URL, naming which", () => {
    expect(usageError([...URL_ARGS, ...sentinelArgs, ...masterArgs])).toMatch(
      /^--sentinel and --redis-url both say where Redis is: give one/,
    );
    vi.stubEnv("REDIS_URL", "redis://from-env:6390");
    expect(usageError([...sentinelArgs, ...masterArgs])).toMatch(
      /^--sentinel and REDIS_URL both say where Redis is: give one/,
    );
  });

  it.each([
    ["h:0", /--sentinel: bad port in Sentinel address "h:0"/],
    ["h:abc", /--sentinel: bad Sentinel address "h:abc": expected host:port/],
    ["h:1,,h:2", /--sentinel: bad Sentinel address "": expected host:port/],
    ["h:1,h:1", /--sentinel: Sentinel h:1 is listed twice/],
    ["", /--sentinel: no Sentinel address/],
  ])("rejects --sentinel %j", (list, pattern) => {
    expect(usageError(["--sentinel", list, ...masterArgs])).toMatch(pattern);
  });

  it("rejects a master name Sentinel would not accept", () => {
    expect(usageError([...sentinelArgs, "--sentinel-master", "my master"])).toBe(
      '--sentinel-master must be letters, digits, ".", "-" or "_"',
    );
  });
});
