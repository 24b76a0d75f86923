import { OLD_PREFIX } from "../jobData.js";
import { scanBatches } from "../keyspace.js";
import type { MethodCtx } from "../types.js";
import { TTL_TOLERANCE_MS, type VerifyTally } from "./compare.js";

// Touches keys not passed in KEYS (the new keys): fine on a single instance, which is the
// only place this ceiling is measured. PTTL is compared too: the tool and the other
// baselines check TTLs, and a ceiling doing less work would not be the same job.
const COMPARE_BATCH = `
local skip, tol = tonumber(ARGV[2]), tonumber(ARGV[3])
local bad, unmigratable = 0, 0
for _, k in ipairs(KEYS) do
  local old = redis.call('HGETALL', k)
  local o = {}
  for i = 1, #old, 2 do o[old[i]] = old[i + 1] end
  local ws = o['workspace_id']
  if ws and ws ~= '' then
    local nk = ARGV[1] .. ws .. ':' .. string.sub(k, skip + 1)
    local new = redis.call('HGETALL', nk)
    local same = #new == #old
    if same then
      for i = 1, #new, 2 do
        if o[new[i]] ~= new[i + 1] then same = false break end
      end
    end
    if same then
      local a, b = redis.call('PTTL', k), redis.call('PTTL', nk)
      same = (a < 0) == (b < 0) and math.abs(a - b) <= tol
    end
    if not same then bad = bad + 1 end
  else
    unmigratable = unmigratable + 1
  end
end
return { bad, unmigratable }
`;

/** Baseline 3: the server-side ceiling, one EVALSHA per SCAN batch returning two counts. */
export async function serverSideVerify(ctx: MethodCtx): Promise<VerifyTally> {
  const { target, batchSize, newPrefix } = ctx;
  if (target.kind !== "single") throw new Error("server-side ceiling is single-instance only");
  const conn = target.conns[0]!;
  const sha = (await conn.script("LOAD", COMPARE_BATCH)) as string;
  const t0 = performance.now();
  const t: VerifyTally = { keys: 0, divergent: 0, unmigratable: 0, seconds: 0 };
  for await (const batch of scanBatches(conn, `${OLD_PREFIX}*`, batchSize)) {
    const args = [...batch, newPrefix, OLD_PREFIX.length, TTL_TOLERANCE_MS];
    const [bad, skipped] = (await conn.evalsha(sha, batch.length, ...args)) as [number, number];
    t.divergent += bad;
    t.unmigratable += skipped;
    t.keys += batch.length;
  }
  t.seconds = (performance.now() - t0) / 1000;
  return t;
}
