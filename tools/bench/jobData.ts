/**
 * Deterministic, realistic-looking old job hashes: job i always has the same contents.
 * Hot path of seeding (>150k keys/s), hence the lookup tables instead of formatting.
 */

export const OLD_PREFIX = "ai:jobs:";

const STATUSES = ["queued", "running", "succeeded", "succeeded", "succeeded", "failed"];
const ACTIONS: [string, string][] = [
  ["openai", "summarize_document"],
  ["anthropic", "classify_ticket"],
  ["google", "translate_text"],
  ["internal", "extract_entities"],
  ["openai", "generate_reply"],
];
const STYLES = ["concise", "formal and detailed", "bullet points, no preamble"];
const BASE_TIME = 1_735_689_600_000;

function mix(i: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
const hex8 = (n: number) =>
  HEX2[n >>> 24]! + HEX2[(n >>> 16) & 255]! + HEX2[(n >>> 8) & 255]! + HEX2[n & 255]!;
const WORKSPACES = Array.from({ length: 500 }, (_, w) => `ws_${hex8(mix(w))}`);
const ACTORS = Array.from({ length: 5000 }, (_, a) => `usr_${hex8(mix(a + 7_000_000))}`);

/** UUID-shaped and unique: the last group is the index itself. */
export function jobId(i: number): string {
  const h = hex8(mix(i));
  const g = hex8(mix(i + 0x51ed27));
  const tail = i.toString(16).padStart(12, "0");
  return `${h}-${g.slice(0, 4)}-4${g.slice(5)}-a${h.slice(1, 4)}-${tail}`;
}

/** 1% of jobs lack workspace_id, as in production's oldest data. */
export const isMalformed = (i: number) => i % 100 === 37;
/** 10% carry a TTL (days, so nothing expires mid-benchmark). */
export const ttlMs = (i: number) => (i % 10 === 3 ? 86_400_000 * (1 + (mix(i) % 7)) : 0);

/** Field/value pairs, flattened, ready for HSET (~330 bytes in all). */
export function jobFields(i: number, id: string = jobId(i)): string[] {
  const h = mix(i);
  const status = STATUSES[h % STATUSES.length]!;
  const [provider, action] = ACTIONS[(h >>> 8) % ACTIONS.length]!;
  const enqueued = BASE_TIME + (i % 1_000_000) * 997;
  // 40% of params exceed hash-max-listpack-value (64 bytes), so Redis holds both hash
  // encodings (listpack and hashtable), as production does; they differ a lot in cost.
  const params =
    h % 5 < 3
      ? `{"document_id":"doc_${id.slice(0, 8)}","max_tokens":${256 + (h % 768)}}`
      : `{"document_id":"doc_${id.slice(0, 8)}","language":"en","max_tokens":${256 + (h % 768)},"temperature":0.${h % 10},"style":"${STYLES[h % STYLES.length]}"}`;
  // prettier-ignore
  const out = [
    "job_id", id,
    "status", status,
    "action_provider", provider,
    "action_name", action,
    "params", params,
    "actor_id", ACTORS[h % ACTORS.length]!,
    "enqueued_at", String(enqueued),
  ];
  if (!isMalformed(i)) out.push("workspace_id", WORKSPACES[(h >>> 3) % WORKSPACES.length]!);
  if (status !== "queued") out.push("started_at", String(enqueued + 1500 + (h % 9000)));
  if (status === "succeeded") {
    out.push(
      "result",
      `{"output_id":"out_${id.slice(9, 13)}${id.slice(15, 18)}","tokens":${h % 2000}}`,
    );
    out.push("finished_at", String(enqueued + 12_000 + (h % 60_000)));
  } else if (status === "failed") {
    out.push("result", `{"error":"provider_timeout","retryable":true}`);
    out.push("finished_at", String(enqueued + 30_000));
  } else {
    out.push("result", "");
  }
  return out;
}

export const oldKey = (i: number, id: string = jobId(i)) => OLD_PREFIX + id;

/**
 * --latency: a few big jobs seeded beside the N normal ones, valid (workspace_id set) so
 * every operation migrates them. Their indexes lie far above any --keys, so they never
 * collide with a normal job, and k < 37 keeps isMalformed() false for all of them.
 */
const BIG_BASE = 900_000_000_000;
/** Jobs with 300 extra fields (a hashtable far past hash-max-listpack-entries). */
export const WIDE_JOBS = 20;
/** Jobs whose params is 1 MB of text. */
export const HUGE_JOBS = 5;
export const BIG_JOBS = WIDE_JOBS + HUGE_JOBS;
export const WIDE_FIELDS = 300;
const HUGE_PARAMS_BYTES = 1024 * 1024;

/** Index of big job k (0 <= k < BIG_JOBS): the first WIDE_JOBS are wide, the rest huge. */
export const bigJobIndex = (k: number) => BIG_BASE + k;

/** 1 MB of pseudo-random hex, different for every seed, inside a JSON params document. */
function hugeParams(seed: number, id: string): string {
  const words: string[] = [];
  for (let j = 0; j < HUGE_PARAMS_BYTES / 8; j++) words.push(hex8(mix(seed * 131_071 + j)));
  return `{"document_id":"doc_${id.slice(0, 8)}","context":"${words.join("")}"}`;
}

export function bigJobFields(k: number): string[] {
  const i = bigJobIndex(k);
  const id = jobId(i);
  const out = jobFields(i, id);
  if (k < WIDE_JOBS) {
    for (let f = 0; f < WIDE_FIELDS; f++) {
      const h = mix(i + f);
      out.push(`attr_${String(f).padStart(3, "0")}`, `${hex8(h)}:${hex8(mix(h))}:${h % 997}`);
    }
  } else {
    out[out.indexOf("params") + 1] = hugeParams(k, id);
  }
  return out;
}
