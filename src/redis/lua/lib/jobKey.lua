-- Shared by copyIfAbsent-n, verifyPairs-n and compareAndDelete-n (pasted in where they say
-- "#include lib/jobKey.lua", after lib/oversized.lua: oldJob uses its oversized()); mirrors
-- mapOldKey in src/migration/keySchema.ts, and test/live/luaMapping.test.ts holds the two
-- to the same table of cases.

-- Why an old job hash with this workspace_id (present) and job_id cannot be migrated, as
-- a one-letter code, or nil when it maps to new prefix .. ws .. ":" .. suffix:
--   "I" workspace_id invalid (full match, so a trailing newline is invalid too)
--   "J" job_id missing or empty     "M" job_id differs from the key's suffix
local function jobKeyProblem(ws, jobId, suffix)
  if #ws > 32 or not string.find(ws, "^[a-z0-9][a-z0-9_%-]*$") then
    return "I"
  end
  if not jobId or jobId == "" then
    return "J"
  end
  if jobId ~= suffix then
    return "M"
  end
  return nil
end

-- The value of one field in a flat HGETALL reply (job hashes have about ten fields).
local function field(flat, name)
  for j = 1, #flat, 2 do
    if flat[j] == name then
      return flat[j + 1]
    end
  end
  return nil
end

-- Why an old hash without workspace_id cannot be migrated: "H" a partial hash (no job_id
-- either, but a status: what update_status leaves when it writes an old key that is
-- gone), else "W" workspace_id missing.
local function noWorkspace(jobId, status)
  return (not jobId and status) and "H" or "W"
end

-- Read an old job hash (one HGETALL: a wrong type is an error, a missing key an empty
-- reply, a hash is never empty) and find its new key. Returns the HGETALL items, then
-- either a one-letter code for why it has no pair ("T" not a hash, "V" vanished,
-- noWorkspace's or jobKeyProblem's, "O" bigger than maxBytes: not read), or nil, the new
-- key and the workspace.
local function oldJob(oldKey, skip, newPrefix, maxBytes)
  if oversized(oldKey, maxBytes) then
    return {}, "O"
  end
  local old = redis.pcall("HGETALL", oldKey)
  if old["err"] then
    return old, "T"
  end
  if #old == 0 then
    return old, "V"
  end
  local ws = field(old, "workspace_id")
  if not ws then
    return old, noWorkspace(field(old, "job_id"), field(old, "status"))
  end
  local suffix = string.sub(oldKey, skip + 1)
  local problem = jobKeyProblem(ws, field(old, "job_id"), suffix)
  if problem then
    return old, problem
  end
  return old, nil, newPrefix .. ws .. ":" .. suffix, ws
end
