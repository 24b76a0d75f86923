import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { errorLine, exitCodeFor, INTERNAL_ERROR } from "../../src/cli/exit.js";
import {
  GuardRefusedError,
  InterruptedError,
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
