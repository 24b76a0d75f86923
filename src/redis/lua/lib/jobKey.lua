-- Shared by copyIfAbsent-n, verifyPairs-n and compareAndDelete-n (pasted in where they say
-- "#include lib/jobKey.lua"); mirrors mapOldKey in src/migration/keySchema.ts, and
-- test/live/luaMapping.test.ts holds the two to the same table of cases.

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
