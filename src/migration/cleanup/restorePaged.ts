import { commandBudget } from "../../redis/commandBudget.js";
import type { ArchivedHash } from "../shared/archive.js";
import type { RedisClient } from "../shared/redisClient.js";

/** Above this many fields a hash is rebuilt in pages (one HSET of it would be long). */
const PAGE_FIELDS = 100;

const OPEN_BRACE = 0x7b;

/**
 * Whether one command restoring this hash would hold the server past the budget (many
 * fields, or a big value). Keys with a "{" keep the one-command restore: the page's
 * temporary key must share the key's Cluster slot, which `{<key>}` does only for those.
 */
export function restoresInPages(h: ArchivedHash): boolean {
  if (h.key.includes(OPEN_BRACE)) return false;
  const bytes = h.pairs.reduce((n, b) => n + b.length, 0);
  return h.pairs.length / 2 > PAGE_FIELDS || bytes > commandBudget.maxKeyBytes;
}

/** Field/value pairs cut into HSETs of at most the budget's bytes (a bigger field alone). */
function pages(pairs: Buffer[]): Buffer[][] {
  const out: Buffer[][] = [];
  let page: Buffer[] = [];
  let bytes = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const size = pairs[i]!.length + pairs[i + 1]!.length;
    if (
      page.length > 0 &&
      (bytes + size > commandBudget.maxKeyBytes || page.length >= 2 * PAGE_FIELDS)
    ) {
      out.push(page);
      page = [];
      bytes = 0;
    }
    page.push(pairs[i]!, pairs[i + 1]!);
    bytes += size;
  }
  if (page.length > 0) out.push(page);
  return out;
}

/**
 * Restore a big hash in short commands: build it under a temporary key in the key's slot
 * (HSETs of bounded size, then its expiry), then move it into place with one RENAMENX
 * (RENAME with `force`), so nobody ever sees it half restored. 1 restored, 0 the key
 * exists (untouched).
 */
export async function restoreInPages(
  client: RedisClient,
  h: ArchivedHash,
  force: boolean,
): Promise<number> {
  if (!force && (await client.exists(h.key)) === 1) return 0;
  const tmp = Buffer.concat([Buffer.from("{"), h.key, Buffer.from("}.jobs-migrate-restoring")]);
  await client.del(tmp);
  for (const page of pages(h.pairs)) await client.hset(tmp, ...page);
  if (h.expireAtMs > 0) await client.pexpireat(tmp, h.expireAtMs);
  if (force) {
    await client.rename(tmp, h.key);
    return 1;
  }
  if ((await client.renamenx(tmp, h.key)) === 1) return 1;
  await client.unlink(tmp);
  return 0;
}
