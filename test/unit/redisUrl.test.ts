import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { registerUrlSecret, knownSecrets } from "../../src/cli/secrets.js";
import { endpointOf } from "../../src/cli/runContext.js";
import type { ConnectionOptions } from "../../src/cli/options/connection.js";
import {
  describeEndpoint,
  parseHostList,
  parseRedisUrl,
  redactUrl,
} from "../../src/redis/redisUrl.js";

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
      /scheme must be redis:\/\/, rediss:\/\/, redis\+sentinel:\/\/ or rediss\+sentinel:\/\/, not http:\/\//,
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

describe("parseRedisUrl: redis+sentinel://", () => {
  it("reads the user and password of the master, every Sentinel, the master name and the db", () => {
    expect(
      parseRedisUrl("redis+sentinel://svc:pw%40x@10.0.0.5:26379,10.0.0.6:26380,s3/mymaster/4"),
    ).toEqual({
      tls: false,
      username: "svc",
      password: "pw@x",
      db: 4,
      sentinel: {
        masterName: "mymaster",
        nodes: [
          { host: "10.0.0.5", port: 26379 },
          { host: "10.0.0.6", port: 26380 },
          { host: "s3", port: 26379 },
        ],
      },
    });
  });

  it("defaults the database to 0, takes a password alone, and has no host of its own", () => {
    const e = parseRedisUrl("redis+sentinel://:only-pass@h:1/m.a-s_1");
    expect(e).toMatchObject({ tls: false, username: undefined, password: "only-pass", db: 0 });
    expect(e.sentinel).toEqual({ nodes: [{ host: "h", port: 1 }], masterName: "m.a-s_1" });
    expect("host" in e).toBe(false);
  });

  it("turns on TLS to the data nodes for rediss+sentinel://, whatever the scheme's case", () => {
    expect(parseRedisUrl("rediss+sentinel://h:1/m").tls).toBe(true);
    expect(parseRedisUrl("REDIS+SENTINEL://h:1/m").tls).toBe(false);
  });

  it("takes IPv6 Sentinels in brackets", () => {
    expect(parseRedisUrl("redis+sentinel://[::1]:7001,[fe80::2]/m").sentinel?.nodes).toEqual([
      { host: "::1", port: 7001 },
      { host: "fe80::2", port: 26379 },
    ]);
  });

  it("splits the password at the last '@', as redactUrl does", () => {
    expect(parseRedisUrl("redis+sentinel://u:hunter2@secret@h:1/m").password).toBe(
      "hunter2@secret",
    );
  });

  it.each([
    ["redis+sentinel://u:pw-nohost@/m", "pw-nohost", /no Sentinel address/],
    ["redis+sentinel://u:pw-nomaster@h:1", "pw-nomaster", /no master name/],
    ["redis+sentinel://u:pw-slash@h:1/", "pw-slash", /no master name/],
    ["redis+sentinel://u:pw-name@h:1/my%20master", "pw-name", /master name must be letters/],
    ["redis+sentinel://u:pw-port@h:0/m", "pw-port", /bad port in Sentinel address "h:0"/],
    ["redis+sentinel://u:pw-big@h:65536/m", "pw-big", /bad port/],
    ["redis+sentinel://u:pw-text@h:abc/m", "pw-text", /bad Sentinel address "h:abc"/],
    ["redis+sentinel://u:pw-empty@h:1,,h:2/m", "pw-empty", /bad Sentinel address ""/],
    ["redis+sentinel://u:pw-twice@h:1,h:1/m", "pw-twice", /Sentinel h:1 is listed twice/],
    ["redis+sentinel://u:pw-db@h:1/m/x", "pw-db", /database must be a number, not "x"/],
    ["redis+sentinel://u:pw-deep@h:1/m/1/2", "pw-deep", /expected \/<master>\[\/<db>\]/],
    ["redis+sentinel://u:pw-query@h:1/m?db=1", "pw-query", /no query/],
    ["redis+sentinel://u:%zz-pw-enc@h:1/m", "pw-enc", /bad %-encoding/],
  ])("rejects %s with a UsageError (exit 2), the password hidden", (raw, password, pattern) => {
    const err = usageErrorOf(raw, password);
    expect(err.message).toMatch(pattern);
    expect(err.message).toMatch(/^invalid Redis URL redis\+sentinel:\/\/u:\*\*\*@/);
  });
});

describe("parseHostList (--sentinel)", () => {
  it("reads host:port pairs, 26379 when no port is given", () => {
    expect(parseHostList("a:1, b ,[::1]:3")).toEqual([
      { host: "a", port: 1 },
      { host: "b", port: 26379 },
      { host: "::1", port: 3 },
    ]);
  });

  it("rejects what is not a host:port list", () => {
    expect(() => parseHostList("a:1:2")).toThrow(/bad Sentinel address "a:1:2"/);
    expect(() => parseHostList("redis://a:1")).toThrow(/bad Sentinel address/);
  });
});

describe("Sentinel URLs and secrets", () => {
  it("redactUrl hides the password of a Sentinel URL and keeps every Sentinel", () => {
    expect(redactUrl("redis+sentinel://u:TopSecret42@h1:1,h2:2/m/3")).toBe(
      "redis+sentinel://u:***@h1:1,h2:2/m/3",
    );
    expect(redactUrl("rediss+sentinel://:TopSecret42@h1:1/m")).toBe(
      "rediss+sentinel://:***@h1:1/m",
    );
  });

  it("describeEndpoint names the Sentinels, master and db, never a password", () => {
    const e = parseRedisUrl("rediss+sentinel://admin:TopSecret42@h1:26379,[::1]:26380/mymaster/2");
    e.sentinel!.password = "SentinelSecret";
    const where = describeEndpoint(e);
    expect(where).toBe("rediss+sentinel://admin@h1:26379,[::1]:26380/mymaster/2");
    expect(where).not.toMatch(/TopSecret42|SentinelSecret/);
  });

  it("registers the password of a Sentinel URL as a secret, encoded or not", () => {
    registerUrlSecret("redis+sentinel://u:Sent%21nel-pw@h1:1,h2:2/m");
    expect(knownSecrets()).toEqual(expect.arrayContaining(["Sent%21nel-pw", "Sent!nel-pw"]));
  });

  it("--sentinel with --sentinel-master makes the same endpoint as the URL, on db 0", () => {
    const fromFlags = endpointOf({
      sentinel: [{ host: "h1", port: 1 }],
      sentinelMaster: "m",
    } as ConnectionOptions);
    expect(fromFlags).toEqual(parseRedisUrl("redis+sentinel://h1:1/m"));
    expect(describeEndpoint(fromFlags)).toBe("redis+sentinel://h1:1/m/0");
  });
});
