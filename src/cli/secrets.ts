import { parseRedisUrl } from "../redis/redisUrl.js";

const secrets = new Set<string>();

/** Remember a value that must never be printed (a Redis password). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length > 0) secrets.add(value);
  if (value && value.includes("%")) {
    try {
      secrets.add(decodeURIComponent(value));
    } catch {
      // not percent-encoded after all
    }
  }
}

/** Register the password of a Redis URL, if it has one and parses. */
export function registerUrlSecret(url: string | undefined): void {
  if (!url) return;
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^:@/?#]*:(.*)@/i.exec(url);
  if (m) registerSecret(m[1]);
  try {
    registerSecret(parseRedisUrl(url).password);
  } catch {
    // an unparseable URL is reported elsewhere; its password was caught by the regex
  }
}

export function knownSecrets(): string[] {
  return [...secrets];
}

/** The text with every one of `known` (by default every registered secret) as ***. */
export function scrub(text: string, known: readonly string[] = knownSecrets()): string {
  let out = text;
  for (const s of known) if (s) out = out.split(s).join("***");
  return out;
}
