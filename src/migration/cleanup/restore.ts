import { readArchive } from "../shared/archive.js";
import type { RedisClient } from "../shared/redisClient.js";
import { restoreInPages, restoresInPages } from "./restorePaged.js";

export interface RestoreResult {
  counts: Record<string, number>;
  durationMs: number;
}

const BATCH = 500;

/**
 * Put the hashes of a cleanup archive back: every field byte for byte, with the expiry
 * time it had. A key that exists is left alone unless `force`; a key whose TTL ran out
 * since is not restored. Idempotent, so running it again after a failure is safe. A hash
 * too big for one short command is rebuilt in pages (restorePaged.ts).
 */
export async function restoreArchive(
  client: RedisClient,
  path: string,
  force: boolean,
): Promise<RestoreResult> {
  const started = Date.now();
  const counts: Record<string, number> = { read: 0, restored: 0 };
  const add = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  let batch: Promise<void>[] = [];
  for await (const h of readArchive(path)) {
    add("read");
    if (h.expireAtMs > 0 && h.expireAtMs <= Date.now()) {
      add("expired");
      continue;
    }
    const restored = restoresInPages(h)
      ? restoreInPages(client, h, force)
      : client.restoreHash(h.key, force ? "1" : "0", h.expireAtMs, ...h.pairs);
    batch.push(restored.then((r) => void add(r === 1 ? "restored" : "skippedExisting")));
    if (batch.length >= BATCH) {
      await Promise.all(batch);
      batch = [];
    }
  }
  await Promise.all(batch);
  return { counts, durationMs: Date.now() - started };
}
