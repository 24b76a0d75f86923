import { describe, expect, it } from "vitest";
import { sameFields } from "../../src/migration/verify/verifyDirect.js";
import {
  bulkOffsets,
  encodeCommands,
  errorText,
  integerOf,
  isErrorReply,
  replyEnd,
} from "../../src/redis/resp.js";

const b = (s: string) => Buffer.from(s, "latin1");

/** An HGETALL reply of these field/value pairs, in this order. */
function hgetall(pairs: [string, string][]): Buffer {
  const parts = [`*${pairs.length * 2}\r\n`];
  for (const [f, v] of pairs) parts.push(`$${f.length}\r\n${f}\r\n`, `$${v.length}\r\n${v}\r\n`);
  return b(parts.join(""));
}

const JOB: [string, string][] = [
  ["job_id", "j1"],
  ["status", "done"],
  ["workspace_id", "ws-1"],
];

describe("replyEnd", () => {
  it("finds the end of every reply type, and -1 while a reply is incomplete", () => {
    const replies = [
      ":42\r\n",
      ":-2\r\n",
      "+OK\r\n",
      "-ERR bad\r\n",
      "$3\r\nabc\r\n",
      "$-1\r\n",
      "*-1\r\n",
    ];
    const all = b(replies.join(""));
    let at = 0;
    for (const r of replies) {
      const end = replyEnd(all, at);
      expect(all.toString("latin1", at, end)).toBe(r);
      at = end;
    }
    expect(replyEnd(all, at)).toBe(-1);
    const nested = hgetall(JOB);
    expect(replyEnd(nested, 0)).toBe(nested.length);
    for (let cut = 1; cut < nested.length; cut++)
      expect(replyEnd(nested.subarray(0, cut), 0)).toBe(-1);
  });

  it("counts a bulk string's bytes, not characters, and reads \\r\\n inside it as data", () => {
    const reply = b("$4\r\n\r\n\r\n\r\n:1\r\n");
    expect(replyEnd(reply, 0)).toBe(10);
    expect(replyEnd(reply, 10)).toBe(reply.length);
  });

  it("refuses a byte that starts no reply (a desynchronised stream is never guessed at)", () => {
    expect(() => replyEnd(b("hello\r\n"), 0)).toThrow(/unexpected RESP reply type/);
  });
});

describe("reading replies", () => {
  it("integers, errors and the offsets of an array's bulk strings", () => {
    expect(integerOf(b(":1234\r\n"))).toBe(1234);
    expect(integerOf(b(":-2\r\n"))).toBe(-2);
    expect(integerOf(b("-WRONGTYPE x\r\n"))).toBeNaN();
    expect(isErrorReply(b("-MOVED 12 h:1\r\n"))).toBe(true);
    expect(errorText(b("-MOVED 12 h:1\r\n"))).toBe("MOVED 12 h:1");
    const reply = hgetall(JOB);
    const at = bulkOffsets(reply);
    expect(at).toHaveLength(12);
    const texts = [];
    for (let e = 0; e < at.length; e += 2) texts.push(reply.toString("latin1", at[e], at[e + 1]));
    expect(texts).toEqual(JOB.flat());
    expect(bulkOffsets(b("*0\r\n"))).toEqual([]);
    expect(() => bulkOffsets(b(":1\r\n"))).toThrow();
  });

  it("encodes commands as RESP arrays of bulk strings, bytes kept as they are", () => {
    const key = Buffer.from([0x61, 0xff, 0x0d, 0x0a]);
    expect(
      encodeCommands([
        ["HLEN", key],
        ["PTTL", "ké"],
      ]).equals(
        Buffer.concat([
          b("*2\r\n$4\r\nHLEN\r\n$4\r\n"),
          key,
          b("\r\n*2\r\n$4\r\nPTTL\r\n$3\r\n"),
          Buffer.from("ké"),
          b("\r\n"),
        ]),
      ),
    ).toBe(true);
    const long = "x".repeat(1234);
    expect(encodeCommands([[long]]).toString("latin1")).toBe(`*1\r\n$1234\r\n${long}\r\n`);
  });
});

describe("sameFields", () => {
  const old = hgetall(JOB);
  const same = (pairs: [string, string][]) => sameFields(old, bulkOffsets(old), hgetall(pairs));

  it("equal in any order", () => {
    expect(same(JOB)).toBe(true);
    expect(same([...JOB].reverse())).toBe(true);
  });

  it("not equal when a value differs, a field is missing, extra or renamed", () => {
    expect(
      same([
        ["job_id", "j1"],
        ["status", "dona"],
        ["workspace_id", "ws-1"],
      ]),
    ).toBe(false);
    expect(same(JOB.slice(0, 2))).toBe(false);
    expect(same([...JOB, ["extra", ""]])).toBe(false);
    expect(
      same([
        ["job_id", "j1"],
        ["statuz", "done"],
        ["workspace_id", "ws-1"],
      ]),
    ).toBe(false);
    // Same bytes overall, split differently between field and value.
    expect(
      same([
        ["job_id", "j1"],
        ["statusd", "one"],
        ["workspace_id", "ws-1"],
      ]),
    ).toBe(false);
  });

  it("wide hashes (matched through a map) follow the same rules", () => {
    const wide: [string, string][] = Array.from({ length: 300 }, (_, i) => [`f${i}`, `v${i}`]);
    const a = hgetall(wide);
    const at = bulkOffsets(a);
    expect(sameFields(a, at, hgetall([...wide].reverse()))).toBe(true);
    const changed = wide.map(([f, v], i): [string, string] => [f, i === 150 ? "other" : v]);
    expect(sameFields(a, at, hgetall(changed))).toBe(false);
    const renamed = wide.map(([f, v], i): [string, string] => [i === 7 ? "g7" : f, v]);
    expect(sameFields(a, at, hgetall(renamed))).toBe(false);
  });
});
