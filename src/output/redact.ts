import { isUtf8 } from "node:buffer";

/** What every hidden secret is replaced with. */
export const REDACTED = "[REDACTED]";

const DEFAULT_MAX_LENGTH = 120;

/** DESIGN §3.7's names, normalized as isSensitiveKey does, then a few more of the same kind. */
const SENSITIVE_NAMES = new Set([
  "password",
  "token",
  "authorization",
  "api_key",
  "apikey",
  "secret",
  "bearer",
  "access_token",
  "refresh_token",
  "auth",
  // Not in DESIGN §3.7, but the same secrets under names apps use for them.
  "passwd",
  "passwords",
  "secrets",
  "credentials",
  "private_key",
  "cookie",
]);

/**
 * Words whose presence anywhere in a binary value hides even its hex prefix. NULs are
 * removed first, so UTF-16 text (`p\0a\0s\0s\0…`) is caught too.
 */
const BINARY_SENSITIVE_WORDS = [
  "password",
  "passwd",
  "token",
  "secret",
  "bearer",
  "auth",
  "apikey",
  "api_key",
  "api-key",
  "credential",
  "private_key",
  "cookie",
];

/**
 * Whether values under this key name must never be shown.
 *
 * The name is lowercased and every run of characters other than `a-z0-9` becomes `_`
 * (leading/trailing `_` dropped), so `X-Api-Key` → `x_api_key` and `--password` →
 * `password`; camelCase is also split (`clientSecret` → `client_secret`). The name is
 * sensitive when that form equals one of DESIGN §3.7's names (plus `passwd, passwords,
 * secrets, credentials, private_key, cookie`) or ends with `_` + one of them:
 * `client_secret`, `x_auth_token` and `AuThOrIzAtIoN` are sensitive; `max_tokens`,
 * `tokenizer` and `author` are not.
 */
export function isSensitiveKey(name: string): boolean {
  return matchesSensitive(normalizeKey(name)) || matchesSensitive(normalizeKey(splitCamel(name)));
}

function normalizeKey(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

function splitCamel(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2");
}

function matchesSensitive(normalized: string): boolean {
  if (SENSITIVE_NAMES.has(normalized)) return true;
  for (let i = normalized.indexOf("_"); i !== -1; i = normalized.indexOf("_", i + 1)) {
    if (SENSITIVE_NAMES.has(normalized.slice(i + 1))) return true;
  }
  return false;
}

/**
 * A job field value made safe to print: the ONLY way a value may reach stdout, stderr,
 * a report file or metrics (DESIGN §3.7). Never throws.
 *
 * - A sensitive `field` (see isSensitiveKey) shows `[REDACTED]`.
 * - UTF-8 text that parses as a JSON object or array (`params`, `result`) is walked at
 *   any depth: the value of every sensitive key, whatever its type, becomes
 *   `[REDACTED]`, as does `value` beside `name`/`key`/`header` naming a secret and the
 *   second item of a `["Authorization", "…"]` pair; every string (and key) gets the text
 *   rules; the result is re-serialized compactly. JSON scalars are shown as text so that
 *   numbers keep their exact digits.
 * - Text rules: `label: secret`, `label=secret`, `"label": "secret"` with a sensitive
 *   label keep the label (and an auth scheme such as `Bearer `) and hide the secret;
 *   `Bearer …`, Basic credentials, JWTs and the password of `scheme://user:pass@` URLs
 *   are hidden wherever they appear. Control and bidi characters are escaped so that a
 *   value cannot drive the terminal.
 * - Bytes that are not UTF-8 show their length and first 16 bytes in hex, or only their
 *   length when they contain a sensitive word.
 * - Last, the result is cut to `maxLength` (default 120) characters plus `…(+N chars)`:
 *   after redaction, so no cut can leave part of a secret unrecognized.
 */
export function redactValue(
  field: string,
  value: Buffer,
  opts: { maxLength?: number } = {},
): string {
  const max = opts.maxLength;
  const maxLength =
    typeof max === "number" && Number.isFinite(max) && max >= 0
      ? Math.floor(max)
      : DEFAULT_MAX_LENGTH;
  try {
    return truncate(render(field, value), maxLength);
  } catch {
    // Whatever went wrong, showing nothing is the only answer known to be safe.
    return "<value not shown: it could not be redacted>";
  }
}

function render(field: string, value: Buffer): string {
  if (isSensitiveKey(String(field))) return REDACTED;
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value);
  if (!isUtf8(bytes)) return describeBinary(bytes);
  return escapeControls(redactText(bytes.toString("utf8")));
}

function describeBinary(bytes: Buffer): string {
  const text = bytes.toString("latin1").replace(/\0/g, "").toLowerCase();
  if (BINARY_SENSITIVE_WORDS.some((w) => text.includes(w))) {
    return `<${bytes.length} bytes, not UTF-8>`;
  }
  const more = bytes.length > 16 ? "…" : "";
  return `<${bytes.length} bytes, not UTF-8: 0x${bytes.subarray(0, 16).toString("hex")}${more}>`;
}

/** The text rules; a string that is itself a JSON object or array is walked as JSON. */
function redactText(text: string): string {
  const head = text.trimStart()[0];
  if (head === "{" || head === "[") {
    try {
      return JSON.stringify(redactJson(JSON.parse(text)));
    } catch {
      // Not JSON after all (or too deep to walk): the text rules still apply below.
    }
  }
  let out = text.replace(URL_PASSWORD, `$1$2:${REDACTED}@`).replace(JWT, REDACTED);
  out = redactLabelledValues(out);
  out = out.replace(BEARER, `$1 ${REDACTED}`);
  return out.replace(BASIC, (match, scheme: string, cred: string) =>
    looksLikeBasicCredentials(cred) ? `${scheme} ${REDACTED}` : match,
  );
}

function redactJson(value: unknown): unknown {
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) {
    if (value.length === 2 && typeof value[0] === "string" && isSensitiveKey(value[0])) {
      return [redactText(value[0]), REDACTED];
    }
    return value.map(redactJson);
  }
  if (value === null || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  const namesSecret = ["name", "key", "header"].some((k) => {
    const v = Object.hasOwn(obj, k) ? obj[k] : undefined;
    return typeof v === "string" && isSensitiveKey(v);
  });
  // fromEntries, not assignment: an own "__proto__" key stays a key.
  return Object.fromEntries(
    Object.entries(obj).map(([k, v]) => [
      redactText(k),
      isSensitiveKey(k) || (namesSecret && k === "value") ? REDACTED : redactJson(v),
    ]),
  );
}

// Quantifiers are bounded or anchored by a lookbehind: values can be megabytes, and an
// unanchored `[a-z0-9]*` would make a long base64 string quadratic.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s:@/?#]{0,256}):\S{0,2048}@/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/-]+=*/gi;
const BASIC = /\b(Basic)\s+([A-Za-z0-9+/]{4,}={0,2})/gi;
/** `key` then `:`, `=` or `=>`; the key may close a quote, escaped or not (`\"key\":`). */
const KEY_LABEL = /(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]+)(?:\\*["'])?\s*[:=]>?\s*/g;
const AUTH_SCHEME = /^(?:Bearer|Basic|Digest|Token|Negotiate|NTLM)\s+/i;
const UNQUOTED_VALUE = /^[^\s&,;"'<>)}\]]*/;

/** "Basic" is also an English word: hide what follows only if it decodes to `user:pass`. */
function looksLikeBasicCredentials(b64: string): boolean {
  return /^[\x20-\x7e]+:[\x20-\x7e]*$/.test(Buffer.from(b64, "base64").toString("latin1"));
}

function redactLabelledValues(text: string): string {
  const re = new RegExp(KEY_LABEL);
  let out = "";
  let copied = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const key = m[1] ?? "";
    if (!isSensitiveKey(key)) continue;
    const start = m.index + m[0].length;
    const [replacement, end] = hiddenValueAt(text, start, /cookie$/i.test(key));
    out += text.slice(copied, start) + replacement;
    copied = end;
    re.lastIndex = Math.max(end, re.lastIndex);
  }
  return out + text.slice(copied);
}

/** The replacement for the value starting at `i`, and where that value ends. */
function hiddenValueAt(text: string, i: number, toEndOfLine: boolean): [string, number] {
  if (text.startsWith(REDACTED, i)) return [REDACTED, i + REDACTED.length];
  const quote = /^\\*["']/.exec(text.slice(i, i + 16))?.[0];
  if (quote) {
    const close = closingQuote(text, i + quote.length, quote);
    const end = close === -1 ? text.length : close + quote.length;
    const scheme = AUTH_SCHEME.exec(text.slice(i + quote.length, end))?.[0] ?? "";
    return [`${quote}${scheme}${REDACTED}${close === -1 ? "" : quote}`, end];
  }
  if (text[i] === "{" || text[i] === "[") return [REDACTED, closingBracket(text, i)];
  if (toEndOfLine) {
    const eol = text.slice(i).search(/[\r\n]/);
    return [REDACTED, eol === -1 ? text.length : i + eol];
  }
  const scheme = AUTH_SCHEME.exec(text.slice(i, i + 32))?.[0] ?? "";
  const at = i + scheme.length;
  // Already hidden by an earlier rule (a JWT): `[REDACTED]` is not a secret to hide again.
  if (text.startsWith(REDACTED, at)) return [scheme + REDACTED, at + REDACTED.length];
  const secret = UNQUOTED_VALUE.exec(text.slice(at))?.[0] ?? "";
  return [secret === "" ? scheme : scheme + REDACTED, at + secret.length];
}

function closingQuote(text: string, from: number, quote: string): number {
  let j = text.indexOf(quote, from);
  // A bare quote preceded by a backslash is escaped and does not close the value.
  while (j !== -1 && quote.length === 1 && text[j - 1] === "\\") j = text.indexOf(quote, j + 1);
  return j;
}

function closingBracket(text: string, open: number): number {
  let depth = 0;
  for (let j = open; j < text.length; j++) {
    const c = text[j];
    if (c === "{" || c === "[") depth++;
    else if ((c === "}" || c === "]") && --depth === 0) return j + 1;
  }
  return text.length;
}

/** Escapes C0/C1 controls, DEL, line/paragraph separators and bidi overrides. */
function escapeControls(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) =>
      c === "\n"
        ? "\\n"
        : c === "\r"
          ? "\\r"
          : c === "\t"
            ? "\\t"
            : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  let cut = maxLength;
  // Never split a surrogate pair, nor the [REDACTED] marker (it would read as data).
  if (cut > 0 && /[\ud800-\udbff]/.test(text.charAt(cut - 1))) cut--;
  const marker = text.lastIndexOf(REDACTED, cut - 1);
  if (marker !== -1 && marker + REDACTED.length > cut) cut = marker;
  return `${text.slice(0, cut)}…(+${text.length - cut} chars)`;
}
