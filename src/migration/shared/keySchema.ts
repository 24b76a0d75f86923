/**
 * The key schema of the migration, the one mapping shared by every subcommand:
 * old `{oldPrefix}{job_id}` → new `{newPrefix}{workspace_id}:{job_id}`.
 * Everything is bytes (Buffers): key names and values are never decoded.
 */
export interface KeySchema {
  oldPrefix: string;
  newPrefix: string;
}

export const DEFAULT_SCHEMA: KeySchema = { oldPrefix: "ai:jobs:", newPrefix: "ai:job:" };

/**
 * Why an old key cannot be migrated (DESIGN §3.4). `partial_hash`: no workspace_id and no
 * job_id but a status, what the application's update_status leaves when it writes an old
 * key that is gone (old-schema writes are on); any other hash without workspace_id is
 * `missing_workspace_id`.
 */
export type Unmigratable =
  | "not_a_hash"
  | "missing_workspace_id"
  | "partial_hash"
  | "invalid_workspace_id"
  | "job_id_mismatch"
  | "missing_job_id";

/** The one-letter codes the Lua scripts use for each reason (lib/jobKey.lua). */
export const UNMIGRATABLE_CODES = {
  T: "not_a_hash",
  W: "missing_workspace_id",
  H: "partial_hash",
  I: "invalid_workspace_id",
  M: "job_id_mismatch",
  J: "missing_job_id",
} as const satisfies Record<string, Unmigratable>;

const UNMIGRATABLE_REASONS: ReadonlySet<string> = new Set(Object.values(UNMIGRATABLE_CODES));

export const isUnmigratable = (s: string): s is Unmigratable => UNMIGRATABLE_REASONS.has(s);

// Full-string match: a trailing newline is invalid (no `$` before \n as in some engines).
const WORKSPACE_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export function isValidWorkspaceId(ws: Buffer): boolean {
  // latin1 maps bytes 1:1, so a non-ASCII byte can never pass as [a-z0-9_-].
  return WORKSPACE_ID.test(ws.toString("latin1")) && ws.length <= 32;
}

export type Mapping = { ok: true; newKey: Buffer } | { ok: false; reason: Unmigratable };

/**
 * Where an old job hash goes, or why it cannot go anywhere, from the old hash's
 * workspace_id and job_id (undefined when absent) and whether it has a status field.
 */
export function mapOldKey(
  schema: KeySchema,
  oldKey: Buffer,
  workspaceId: Buffer | undefined,
  jobId: Buffer | undefined,
  hasStatus: boolean,
): Mapping {
  const suffix = oldKey.subarray(Buffer.byteLength(schema.oldPrefix));
  if (workspaceId === undefined)
    return {
      ok: false,
      reason: jobId === undefined && hasStatus ? "partial_hash" : "missing_workspace_id",
    };
  if (!isValidWorkspaceId(workspaceId)) return { ok: false, reason: "invalid_workspace_id" };
  // An empty job_id (at the bare prefix key) would map to `{newPrefix}{ws}:`.
  if (jobId === undefined || jobId.length === 0) return { ok: false, reason: "missing_job_id" };
  if (!jobId.equals(suffix)) return { ok: false, reason: "job_id_mismatch" };
  return {
    ok: true,
    newKey: Buffer.concat([Buffer.from(schema.newPrefix), workspaceId, Buffer.from(":"), suffix]),
  };
}

/** A key or value for output: UTF-8 when it is valid, otherwise with \xNN escapes. */
export function displayBytes(b: Buffer): string {
  const text = b.toString("utf8");
  if (Buffer.from(text, "utf8").equals(b)) return text;
  return [...b]
    .map((c) =>
      c >= 0x20 && c < 0x7f && c !== 0x5c
        ? String.fromCharCode(c)
        : `\\x${c.toString(16).padStart(2, "0")}`,
    )
    .join("");
}

/** The old key a new job key belongs to, or undefined for a key of another shape. */
export function oldKeyOf(
  schema: KeySchema,
  newKey: Buffer,
): { oldKey: Buffer; workspaceId: Buffer } | undefined {
  const rest = newKey.subarray(Buffer.byteLength(schema.newPrefix));
  const colon = rest.indexOf(0x3a);
  if (colon <= 0 || colon === rest.length - 1) return undefined;
  return {
    workspaceId: rest.subarray(0, colon),
    oldKey: Buffer.concat([Buffer.from(schema.oldPrefix), rest.subarray(colon + 1)]),
  };
}
