import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { ReplyError } from "ioredis";
import { MaxRetriesPerRequestError } from "ioredis/built/errors/index.js";
import { errorLine, exitCodeFor, INTERNAL_ERROR, toUserError } from "../../src/cli/exit.js";
import {
  GuardRefusedError,
  InterruptedError,
  LocalFailureError,
  LockHeldError,
  RedisUnavailableError,
  UsageError,
} from "../../src/errors.js";

describe("exitCodeFor", () => {
  it.each([
    [new UsageError("bad flag"), 2],
    [new RedisUnavailableError("down"), 3],
    [new LockHeldError("held"), 4],
    [new GuardRefusedError("no verify"), 5],
    [new LocalFailureError("disk full"), 6],
    [new InterruptedError("SIGINT"), 130],
  ])("maps %s to its documented status %i", (err, code) => {
    expect(exitCodeFor(err)).toBe(code);
  });

  it("names each error after its class", () => {
    expect(new LockHeldError("x").name).toBe("LockHeldError");
    expect(new InterruptedError("x").name).toBe("InterruptedError");
  });

  it("maps a commander usage error to 2, and help/version (exit 0) to 0", () => {
    expect(exitCodeFor(new CommanderError(1, "commander.unknownOption", "error: x"))).toBe(2);
    expect(exitCodeFor(new CommanderError(0, "commander.helpDisplayed", "(outputHelp)"))).toBe(0);
  });

  it("maps anything else (a bug) to 70, distinct from every documented status", () => {
    expect(INTERNAL_ERROR).toBe(70);
    expect(exitCodeFor(new TypeError("x is undefined"))).toBe(70);
    expect(exitCodeFor("a thrown string")).toBe(70);
    expect(exitCodeFor(undefined)).toBe(70);
  });
});

describe("errorLine", () => {
  it("prefixes the message with the tool's name", () => {
    expect(errorLine(new UsageError("--batch-size must be…"), [])).toBe(
      "jobs-migrate: --batch-size must be…",
    );
  });

  it("replaces every occurrence of every registered secret", () => {
    const err = new RedisUnavailableError("auth hunter2 failed for hunter2 and s3cr3t at h");
    expect(errorLine(err, ["hunter2", "s3cr3t"])).toBe(
      "jobs-migrate: auth *** failed for *** and *** at h",
    );
  });

  it("ignores an empty secret instead of starring every gap between characters", () => {
    expect(errorLine(new UsageError("plain"), [""])).toBe("jobs-migrate: plain");
  });

  it("keeps only the first line, so a stack or multi-line cause never reaches the user", () => {
    const err = new Error("boom hunter2\n    at secretPath (/srv/app.js:1:1)");
    const line = errorLine(err, ["hunter2"]);
    expect(line).toBe("jobs-migrate: internal error (please report): boom ***");
    expect(line).not.toContain("\n");
  });

  it("redacts a secret that only appears after the first line too (no partial leak)", () => {
    const line = errorLine(new UsageError("first\npassword=hunter2"), ["hunter2"]);
    expect(line).toBe("jobs-migrate: first");
  });

  it("strips commander's own 'error: ' prefix", () => {
    const err = new CommanderError(1, "commander.unknownOption", "error: unknown option '--x'");
    expect(errorLine(err, [])).toBe("jobs-migrate: unknown option '--x'");
  });

  it("describes a non-Error throw as an internal error", () => {
    expect(errorLine("oops", [])).toBe("jobs-migrate: internal error (please report): oops");
  });
});

/** An error as Node's fs or net module makes it. */
function sysError(message: string, fields: Record<string, string>): Error {
  return Object.assign(new Error(message), fields);
}

describe("toUserError: one place decides what a raw error means", () => {
  const WHERE = "redis://app@10.0.0.5:6380/0";

  it.each([
    ["ioredis giving up on a lost connection", new MaxRetriesPerRequestError(2)],
    ["ioredis' closed connection", new Error("Connection is closed.")],
    ["a reset socket", sysError("read ECONNRESET", { code: "ECONNRESET", syscall: "read" })],
    ["a server still loading", new ReplyError("LOADING Redis is loading the dataset in memory")],
    [
      "a replica after a failover",
      new ReplyError("READONLY You can't write against a read only replica."),
    ],
    [
      "a server out of memory",
      new ReplyError("OOM command not allowed when used memory > 'maxmemory'."),
    ],
  ])("%s is a Redis failure (exit 3) naming the endpoint", (_name, raw) => {
    const err = toUserError(raw, WHERE);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect(exitCodeFor(err)).toBe(3);
    expect((err as Error).message).toContain(WHERE);
    expect(errorLine(err, [])).toMatch(
      /^jobs-migrate: .*Redis at redis:\/\/app@10\.0\.0\.5:6380\/0/,
    );
  });

  it.each([
    [
      "a full disk",
      "ENOSPC",
      "write",
      /^cannot write \/var\/x\.jsonl: no space left on the device$/,
    ],
    [
      "a read-only file system",
      "EROFS",
      "open",
      /^cannot open \/var\/x\.jsonl: read-only file system$/,
    ],
    [
      "a missing directory",
      "ENOENT",
      "open",
      /^cannot open \/var\/x\.jsonl: its directory does not exist$/,
    ],
    [
      "a directory in the way",
      "EISDIR",
      "open",
      /^cannot open \/var\/x\.jsonl: it is a directory$/,
    ],
    ["no permission", "EACCES", "open", /^cannot open \/var\/x\.jsonl: permission denied$/],
  ])(
    "%s is a local failure (exit 6) naming the file, never Redis",
    (_name, code, syscall, line) => {
      const raw = sysError(`${code}: x, ${syscall} '/var/x.jsonl'`, {
        code,
        syscall,
        path: "/var/x.jsonl",
      });
      const err = toUserError(raw, WHERE);
      expect(err).toBeInstanceOf(LocalFailureError);
      expect(exitCodeFor(err)).toBe(6);
      expect((err as Error).message).toMatch(line);
    },
  );

  it("leaves a bug a bug (70): a TypeError, a script error, a WRONGTYPE", () => {
    for (const raw of [
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      new ReplyError("ERR user_script:12: attempt to compare nil with number"),
      new ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value"),
    ]) {
      expect(toUserError(raw, WHERE)).toBe(raw);
      expect(exitCodeFor(raw)).toBe(70);
    }
  });

  it("names the endpoint in a RedisUnavailableError that does not say where, once", () => {
    const bare = new RedisUnavailableError("Redis command kept failing (Connection is closed.)");
    expect((toUserError(bare, WHERE) as Error).message).toBe(
      `Redis command kept failing (Connection is closed.) (Redis at ${WHERE})`,
    );
    const named = new RedisUnavailableError("cannot reach Redis at 10.0.0.5:6380: ECONNREFUSED");
    expect(toUserError(named, WHERE)).toBe(named);
    const sentinels = "redis+sentinel://10.0.0.7:26379,10.0.0.8:26379/mymaster/0";
    const one = new RedisUnavailableError("authentication failed at sentinel 10.0.0.8:26379");
    expect(toUserError(one, sentinels)).toBe(one);
  });

  it("keeps commander's errors and the tool's own errors as they are", () => {
    const usage = new UsageError("bad flag");
    expect(toUserError(usage, WHERE)).toBe(usage);
    const cmd = new CommanderError(1, "commander.unknownOption", "error: x");
    expect(toUserError(cmd, WHERE)).toBe(cmd);
  });
});
