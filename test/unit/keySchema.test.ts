import { describe, expect, it } from "vitest";
import {
  DEFAULT_SCHEMA,
  displayBytes,
  isValidWorkspaceId,
  mapOldKey,
  type Mapping,
} from "../../src/migration/shared/keySchema.js";

const b = (s: string | number[]): Buffer =>
  typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s);

/** mapOldKey for `ai:jobs:<jobId>` with the given field values (undefined: absent). */
function map(
  keySuffix: Buffer,
  ws: Buffer | undefined,
  jobId: Buffer | undefined,
  hasStatus = true,
): Mapping {
  const oldKey = Buffer.concat([b(DEFAULT_SCHEMA.oldPrefix), keySuffix]);
  return mapOldKey(DEFAULT_SCHEMA, oldKey, ws, jobId, hasStatus);
}

describe("mapOldKey", () => {
  it("maps ai:jobs:{job_id} to ai:job:{workspace_id}:{job_id}", () => {
    expect(map(b("job-42"), b("ws-7"), b("job-42"))).toEqual({
      ok: true,
      newKey: b("ai:job:ws-7:job-42"),
    });
  });

  it("honours a custom schema's prefixes", () => {
    const schema = { oldPrefix: "t:old:", newPrefix: "t:new:" };
    const m = mapOldKey(schema, b("t:old:j1"), b("w1"), b("j1"), true);
    expect(m).toEqual({ ok: true, newKey: b("t:new:w1:j1") });
  });

  it("keeps binary job ids byte for byte in the new key", () => {
    const id = b([0x6a, 0xff, 0x00, 0xfe, 0x3a, 0x80]);
    const m = map(id, b("ws-1"), id);
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.newKey.equals(Buffer.concat([b("ai:job:ws-1:"), id]))).toBe(true);
  });

  it("reports a missing workspace_id, never guessing a key like ai:job::x", () => {
    expect(map(b("x"), undefined, b("x"))).toEqual({ ok: false, reason: "missing_workspace_id" });
  });

  it.each([
    ["empty", ""],
    ["uppercase", "Ws-1"],
    ["33 characters", "a".repeat(33)],
    ["a trailing newline", "ws-1\n"],
    ["a leading dash", "-ws"],
    ["a leading underscore", "_ws"],
    ["a colon (it would shift the key's job_id)", "ws:1"],
    ["a space", "ws 1"],
    ["a NUL byte", "ws\u0000"],
    ["non-ASCII UTF-8 (é)", "wé"],
  ])("reports an invalid workspace_id with %s", (_what, ws) => {
    expect(map(b("x"), b(ws), b("x"))).toEqual({ ok: false, reason: "invalid_workspace_id" });
  });

  it("reports an invalid workspace_id made of bytes that are not UTF-8", () => {
    expect(map(b("x"), b([0x77, 0xe9]), b("x"))).toEqual({
      ok: false,
      reason: "invalid_workspace_id",
    });
  });

  it("reports a job_id field that differs from the key", () => {
    expect(map(b("job-1"), b("ws"), b("job-2"))).toEqual({ ok: false, reason: "job_id_mismatch" });
    expect(map(b("job-1"), b("ws"), b("job-1\n"))).toEqual({
      ok: false,
      reason: "job_id_mismatch",
    });
  });

  it("compares binary job ids byte for byte (one byte off is a mismatch)", () => {
    expect(map(b([0xff, 0x01]), b("ws"), b([0xff, 0x02]))).toEqual({
      ok: false,
      reason: "job_id_mismatch",
    });
  });

  it("reports a missing job_id field", () => {
    expect(map(b("job-1"), b("ws"), undefined)).toEqual({ ok: false, reason: "missing_job_id" });
  });

  it("reports an empty job_id at the bare prefix key instead of mapping it to `ws:`", () => {
    expect(map(b(""), b("ws"), b(""))).toEqual({ ok: false, reason: "missing_job_id" });
  });

  it("checks workspace_id before job_id, as copyIfAbsent-n.lua does", () => {
    expect(map(b("j"), undefined, undefined, false)).toMatchObject({
      reason: "missing_workspace_id",
    });
    expect(map(b("j"), b("BAD"), b("other"))).toMatchObject({ reason: "invalid_workspace_id" });
  });

  it("tells a partial hash (a status, no workspace_id, no job_id) from a missing workspace_id", () => {
    expect(map(b("j"), undefined, undefined)).toEqual({ ok: false, reason: "partial_hash" });
    expect(map(b("j"), undefined, b("j"))).toEqual({ ok: false, reason: "missing_workspace_id" });
    expect(map(b("j"), undefined, undefined, false)).toEqual({
      ok: false,
      reason: "missing_workspace_id",
    });
  });
});

describe("isValidWorkspaceId", () => {
  it("accepts 1 to 32 characters of [a-z0-9_-] starting with a letter or digit", () => {
    for (const ws of ["a", "0", "ws-7", "a_b-c", "a".repeat(32), `9${"-_".repeat(15)}x`]) {
      expect(isValidWorkspaceId(b(ws)), ws).toBe(true);
    }
  });

  it("rejects 33 characters, the empty string and anything outside the class", () => {
    for (const ws of ["a".repeat(33), "", "A", "a.b", "a/b", "a*", "ws-1\r", "\nws"]) {
      expect(isValidWorkspaceId(b(ws)), JSON.stringify(ws)).toBe(false);
    }
  });

  it("rejects latin1 letters that would pass a decoded comparison", () => {
    expect(isValidWorkspaceId(b([0x61, 0xe0]))).toBe(false);
    expect(isValidWorkspaceId(b([0xc3, 0xa0]))).toBe(false);
  });
});

describe("displayBytes", () => {
  it("passes valid UTF-8 through unchanged, including non-ASCII text", () => {
    expect(displayBytes(b("ai:jobs:job-42"))).toBe("ai:jobs:job-42");
    expect(displayBytes(b("ai:jobs:café-日本"))).toBe("ai:jobs:café-日本");
  });

  it("escapes each invalid byte as \\xNN and keeps printable ASCII", () => {
    expect(displayBytes(b([0x61, 0xff, 0x62, 0xfe]))).toBe("a\\xffb\\xfe");
  });

  it("escapes control bytes and the backslash itself once any byte is invalid", () => {
    expect(displayBytes(b([0x00, 0x0a, 0x5c, 0x80]))).toBe("\\x00\\x0a\\x5c\\x80");
  });
});
