import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import type { MethodCtx } from "../types.js";

// Touches keys not passed in KEYS (the copies): fine on a single instance, which is the
// only place this ceiling is measured.
const COPY_BATCH = `
local n = 0
local skip = tonumber(ARGV[2])
for _, k in ipairs(KEYS) do
  local ws = redis.call('HGET', k, 'workspace_id')
  if ws and ws ~= '' then
    n = n + redis.call('COPY', k, ARGV[1] .. ws .. ':' .. string.sub(k, skip + 1))
  end
end
return n
`;

/** Baseline 3: the server-side ceiling, one EVALSHA per SCAN batch, zero client work. */
export async function serverSideBackfill(ctx: MethodCtx) {
  const { target, batchSize, newPrefix } = ctx;
  if (target.kind !== "single") throw new Error("server-side ceiling is single-instance only");
  const conn = target.conns[0]!;
  const sha = (await conn.script("LOAD", COPY_BATCH)) as string;
  const t0 = performance.now();
  let keys = 0;
  let copied = 0;
  for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, batchSize)) {
    const n = await conn.evalsha(sha, batch.length, ...batch, newPrefix, OLD_PREFIX.length);
    copied += n as number;
    keys += batch.length;
  }
  return { keys, copied, seconds: (performance.now() - t0) / 1000 };
}
