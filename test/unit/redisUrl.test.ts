import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { describeEndpoint, parseRedisUrl, redactUrl } from "../../src/redis/redisUrl.js";

/** The UsageError a bad URL must raise: exit 2, one line, the password nowhere. */
function usageErrorOf(raw: string, password?: string): UsageError {
  let caught: unknown;
  try {
    parseRedisUrl(raw);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UsageError);
  const err = caught as UsageError;
  expect(err.exitCode).toBe(2);
  expect(err.message).not.toContain("\n");
  if (password !== undefined) expect(err.message).not.toContain(password);
  return err;
}

describe("parseRedisUrl", () => {
  it("fills in the default port 6379 and database 0 for a bare redis:// host", () => {
    expect(parseRedisUrl("redis://cache.internal")).toEqual({
      tls: false,
      host: "cache.internal",
      port: 6379,
      username: undefined,
      password: undefined,
      db: 0,
    });
  });

  it("turns on TLS for rediss:// and reads port and database number", () => {
    const e = parseRedisUrl("rediss://cache.internal:6380/7");
    expect(e).toMatchObject({ tls: true, host: "cache.internal", port: 6380, db: 7 });
  });

  it("decodes a percent-encoded ACL user and password", () => {
    const e = parseRedisUrl("redis://svc%2Dmigrate:p%40ss%3Aw%2Frd%25@h:7000/2");
    expect(e.username).toBe("svc-migrate");
    expect(e.password).toBe("p@ss:w/rd%");
    expect(e).toMatchObject({ host: "h", port: 7000, db: 2 });
  });

  it("accepts a password without a user (legacy AUTH)", () => {
    const e = parseRedisUrl("redis://:only-pass@h");
    expect(e.username).toBeUndefined();
    expect(e.password).toBe("only-pass");
  });

  it("strips the brackets of an IPv6 host", () => {
    const e = parseRedisUrl("redis://[::1]:7001/3");
    expect(e).toMatchObject({ host: "::1", port: 7001, db: 3 });
  });

  it.each([
    [
      "http://u:pw-http@h:6379",
      "pw-http",
      /scheme must be redis:\/\/ or rediss:\/\/, not http:\/\//,
    ],
    ["not a url", undefined, /invalid Redis URL not a url: expected redis:\/\/host:port/],
    ["redis://u:pw-port@h:0", "pw-port", /bad port/],
    ["redis://u:pw-big@h:65536", "pw-big", /invalid Redis URL/],
    ["redis://u:pw-text@h:abc", "pw-text", /invalid Redis URL/],
    ["redis://h:6379/x", undefined, /database must be a number, not "x"/],
    ["redis://h:6379/1/2", undefined, /database must be a number, not "1\/2"/],
    ["redis://h:6379/-1", undefined, /database must be a number/],
    ["redis://h:6379/123456", undefined, /database must be a number/],
  ])("rejects %s with a UsageError (exit 2) that names the problem", (raw, password, pattern) => {
    expect(usageErrorOf(raw, password).message).toMatch(pattern);
  });

  it("rejects a malformed percent-encoding in user or password as a UsageError (exit 2)", () => {
    usageErrorOf("redis://u:%zz-TopSecret@h", "TopSecret");
    usageErrorOf("redis://%zz:pw@h");
  });

  it("never prints an unencoded password containing '/', '?' or '#' when rejecting it", () => {
    for (const pw of ["pa/ss-word", "pa?ss-word", "pa#ss-word"]) {
      expect(usageErrorOf(`redis://u:${pw}@h:1`).message).not.toContain("ss-word");
    }
  });

  it("shows a rejected URL redacted in its message", () => {
    const err = usageErrorOf("redis://admin:TopSecret42@h:99999", "TopSecret42");
    expect(err.message).toContain("redis://admin:***@h:99999");
  });
});

describe("redactUrl", () => {
  it("replaces the password and keeps user, host, port and database", () => {
    expect(redactUrl("rediss://admin:TopSecret42@h:6380/4")).toBe("rediss://admin:***@h:6380/4");
  });

  it("redacts a password given without a user", () => {
    expect(redactUrl("redis://:TopSecret42@h")).toBe("redis://:***@h");
  });

  it("leaves a URL without credentials, or with a user only, unchanged", () => {
    expect(redactUrl("redis://h:6379/0")).toBe("redis://h:6379/0");
    expect(redactUrl("redis://admin@h:6379")).toBe("redis://admin@h:6379");
  });

  it("redacts unparseable input too: a doubled @ after the password", () => {
    const out = redactUrl("redis://u:Pw9@@h");
    expect(out).not.toContain("Pw9");
    expect(out.startsWith("redis://u:***@")).toBe(true);
  });

  it("redacts all of a password that contains an unencoded '@'", () => {
    // WHATWG URL (and so parseRedisUrl) splits at the last '@': the password is "hunter2@secret".
    expect(parseRedisUrl("redis://u:hunter2@secret@h").password).toBe("hunter2@secret");
    expect(redactUrl("redis://u:hunter2@secret@h")).toBe("redis://u:***@h");
  });

  it("redacts whatever the scheme, so a wrong scheme's error cannot leak it", () => {
    expect(redactUrl("http://u:TopSecret42@h")).toBe("http://u:***@h");
    expect(redactUrl("REDIS://u:TopSecret42@h")).toBe("REDIS://u:***@h");
  });
});

describe("describeEndpoint", () => {
  it("names scheme, user, host, port and database, never the password", () => {
    const e = parseRedisUrl("rediss://admin:TopSecret42@cache:6380/5");
    expect(describeEndpoint(e)).toBe("rediss://admin@cache:6380/5");
  });

  it("puts an IPv6 host back in brackets and omits an absent user", () => {
    expect(describeEndpoint(parseRedisUrl("redis://:pw@[::1]:7001"))).toBe("redis://[::1]:7001/0");
  });
});
