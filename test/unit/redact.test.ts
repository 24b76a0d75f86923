import { describe, expect, it } from "vitest";
import { isSensitiveKey, REDACTED, redactValue } from "../../src/output/redact.js";

const SECRET = "s3cr3t-V4lue-42";
const SECRET_HEX = Buffer.from(SECRET).toString("hex");

/** redactValue with room to see everything, so only redaction can hide the secret. */
function shown(value: string | Buffer, field = "params"): string {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  return redactValue(field, bytes, { maxLength: 100_000 });
}

/** No piece of the secret long enough to be useful survives, in clear or in hex. */
function expectNoSecret(out: string): void {
  expect(out).not.toContain(SECRET);
  expect(out).not.toContain("s3cr");
  expect(out).not.toContain("V4lue");
  expect(out).not.toContain(SECRET_HEX.slice(0, 8));
}

describe("isSensitiveKey", () => {
  it("matches DESIGN §3.7's names in any case and with - or _ or camelCase", () => {
    for (const k of [
      "password",
      "PASSWORD",
      "AuThOrIzAtIoN",
      "api_key",
      "apiKey",
      "api-key",
      "X-Api-Key",
      "x_api_key",
      "client_secret",
      "clientSecret",
      "access_token",
      "accessToken",
      "refresh_token",
      "bearer",
      "auth",
      "Proxy-Authorization",
      "--password",
    ]) {
      expect(isSensitiveKey(k), k).toBe(true);
    }
  });

  it("leaves alone names that only contain a sensitive word", () => {
    for (const k of ["max_tokens", "tokenizer", "author", "oauth_provider", "status", "params"]) {
      expect(isSensitiveKey(k), k).toBe(false);
    }
  });
});

describe("redactValue on JSON", () => {
  it("hides the value of a sensitive key at depth 4, in odd case, inside arrays", () => {
    const params = {
      prompt: "Summarize the Q3 report",
      max_tokens: 512,
      steps: [{ call: { http: [{ headers: { AuThOrIzAtIoN: SECRET, Accept: "text/plain" } }] } }],
    };
    const out = shown(JSON.stringify(params));
    expectNoSecret(out);
    const parsed = JSON.parse(out);
    expect(parsed.steps[0].call.http[0].headers).toEqual({
      AuThOrIzAtIoN: REDACTED,
      Accept: "text/plain",
    });
    expect(parsed.prompt).toBe("Summarize the Q3 report");
    expect(parsed.max_tokens).toBe(512);
  });

  it("hides a whole object or array under a sensitive key, whatever it holds", () => {
    const out = shown(
      JSON.stringify({ credentials: { user: "bob", pass: SECRET }, Secret: [SECRET, 1] }),
    );
    expectNoSecret(out);
    expect(JSON.parse(out)).toEqual({ credentials: REDACTED, Secret: REDACTED });
  });

  it("hides secrets in header strings and URLs inside JSON strings", () => {
    const out = shown(
      JSON.stringify({
        headers: [`Authorization: Bearer ${SECRET}`, "Accept: */*"],
        webhook: `https://bob:${SECRET}@hooks.example.com/cb?x=1`,
        note: `retry with token=${SECRET}&attempt=2`,
      }),
    );
    expectNoSecret(out);
    expect(JSON.parse(out)).toEqual({
      headers: [`Authorization: Bearer ${REDACTED}`, "Accept: */*"],
      webhook: `https://bob:${REDACTED}@hooks.example.com/cb?x=1`,
      note: `retry with token=${REDACTED}&attempt=2`,
    });
  });

  it("hides the value beside a name that names a secret, and [name, value] pairs", () => {
    const out = shown(
      JSON.stringify({
        headers: [
          { name: "X-Api-Key", value: SECRET },
          { name: "Accept", value: "application/json" },
        ],
        pairs: [["Authorization", SECRET]],
      }),
    );
    expectNoSecret(out);
    expect(out).toContain("application/json");
  });

  it("walks JSON stored as a string inside JSON", () => {
    const inner = JSON.stringify({ config: { nested: { deeper: { ApiKey: { v: SECRET } } } } });
    const out = shown(JSON.stringify({ result: inner, status: "done" }));
    expectNoSecret(out);
    expect(JSON.parse(out).status).toBe("done");
  });

  it("keeps the exact digits of a JSON scalar", () => {
    expect(shown("12345678901234567890")).toBe("12345678901234567890");
  });
});

describe("redactValue on text", () => {
  it.each([
    [`Authorization: Bearer ${SECRET}`, `Authorization: Bearer ${REDACTED}`],
    [`authorization=Basic ${SECRET}`, `authorization=Basic ${REDACTED}`],
    [`Bearer ${SECRET}`, `Bearer ${REDACTED}`],
    [
      `Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx.${SECRET}`,
      `Authorization: Bearer ${REDACTED}`,
    ],
    [`token=${SECRET}&x=1`, `token=${REDACTED}&x=1`],
    [`password: ${SECRET}`, `password: ${REDACTED}`],
    [`{'password': '${SECRET} with spaces', 'ok': 1}`, `{'password': '${REDACTED}', 'ok': 1}`],
    [`{\\"api_key\\":\\"${SECRET}\\"}`, `{\\"api_key\\":\\"${REDACTED}\\"}`],
    [
      `connect redis://app:${SECRET}@cache:6379/0 failed`,
      `connect redis://app:${REDACTED}@cache:6379/0 failed`,
    ],
    [`Cookie: theme=dark; sid=${SECRET}`, `Cookie: ${REDACTED}`],
  ])("keeps the label and hides the secret in %s", (input, expected) => {
    expect(shown(input)).toBe(expected);
  });

  it("hides a JWT and Basic credentials without any label", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl";
    const basic = Buffer.from(`bob:${SECRET}`).toString("base64");
    const out = shown(`sent ${jwt} then Basic ${basic}`);
    expect(out).toBe(`sent ${REDACTED} then Basic ${REDACTED}`);
  });

  it("leaves ordinary text readable", () => {
    const text = "Basic setup done: 42 max_tokens used, status=ok, author: Ada";
    expect(shown(text)).toBe(text);
  });

  it("escapes control characters so a value cannot drive the terminal", () => {
    expect(shown("ok\u001b[2Jboom\nnext")).toBe("ok\\u001b[2Jboom\\nnext");
  });
});

describe("redactValue on a sensitive field or non-UTF-8 bytes", () => {
  it("hides the whole value of a sensitive field", () => {
    expect(shown(SECRET, "refresh_token")).toBe(REDACTED);
    expect(shown(SECRET, "Api-Key")).toBe(REDACTED);
  });

  it("shows only the length of non-UTF-8 bytes that contain a sensitive word", () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`PaSsWoRd=${SECRET}`)]);
    const out = shown(bytes);
    expect(out).toBe(`<${bytes.length} bytes, not UTF-8>`);
    expectNoSecret(out);
  });

  it("catches the sensitive word in UTF-16 text too", () => {
    const bytes = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`token ${SECRET}`, "utf16le"),
    ]);
    expect(shown(bytes)).toBe(`<${bytes.length} bytes, not UTF-8>`);
  });

  it("shows the first 16 bytes in hex of other non-UTF-8 bytes", () => {
    const bytes = Buffer.from([0x80, ...Array.from({ length: 20 }, (_, i) => i)]);
    expect(shown(bytes)).toBe(
      `<21 bytes, not UTF-8: 0x80${bytes.subarray(1, 16).toString("hex")}…>`,
    );
  });
});

describe("redactValue truncation", () => {
  it("redacts before cutting, so a secret across the cut leaves no part behind", () => {
    const text = `${"x".repeat(100)} password=${SECRET} tail`;
    // The secret starts at 110: cutting first would keep "s3cr3t-V4l" unrecognized.
    const out = redactValue("notes", Buffer.from(text), { maxLength: 120 });
    expectNoSecret(out);
    expect(out.startsWith(`${"x".repeat(100)} password=`)).toBe(true);
    expect(out).toMatch(/…\(\+\d+ chars\)$/);
  });

  it("cuts long JSON after redacting it, even when the cut breaks the JSON", () => {
    const json = JSON.stringify({ log: "y".repeat(200), auth: SECRET });
    const out = redactValue("result", Buffer.from(json), { maxLength: 120 });
    expectNoSecret(out);
    const redacted = JSON.stringify({ log: "y".repeat(200), auth: REDACTED });
    expect(out).toBe(`${redacted.slice(0, 120)}…(+${redacted.length - 120} chars)`);
  });

  it("counts the characters it dropped and defaults to 120", () => {
    const out = redactValue("status", Buffer.from("a".repeat(500)));
    expect(out).toBe(`${"a".repeat(120)}…(+380 chars)`);
  });
});

describe("redactValue never throws", () => {
  it.each([
    [
      "deeply nested JSON",
      Buffer.from(`${"[".repeat(200_000)}"token=${SECRET}"${"]".repeat(200_000)}`),
    ],
    ["not a Buffer", null as unknown as Buffer],
    ["a huge base64 blob", Buffer.from("QUJD".repeat(500_000))],
    ["an empty value", Buffer.alloc(0)],
  ])("on %s", (_name, value) => {
    const out = redactValue("params", value);
    expect(typeof out).toBe("string");
    expectNoSecret(out);
  });
});
