--[[
  compareAndDelete: for each old job key, delete one side of its pair (the old key, or
  with side "new" the new key) only if the new key exists and holds exactly the old
  key's fields, byte for byte, at this instant. A single instance only: one script sees
  both keys, so nothing can change between the comparison and the UNLINK.

  Input:
    KEYS[1..n]  old keys
    ARGV[1] old prefix   ARGV[2] new prefix   ARGV[3] side: "old" or "new"
    ARGV[4] "1" to delete; "0" to only report what would be deleted (dry run); "A" to
            report it with what an archive needs (nothing deleted: with an archive,
            deleteUnchangedPairs-n.lua deletes once the records are written)
    ARGV[5] a set to record each deleted old key in (the rollback's tombstones), or ""
  Output: { codes, details }. codes: a string of n characters, one per key in KEYS order:
    "D" deleted (or, dry run, would be deleted)
    "N" new key missing   "Y" new key not a hash   "X" pair differs (kept)
    "P" partial old hash (no workspace_id nor job_id, but a status) at a key cleanup
        deleted: update_status re-created it, so old-schema writes are still on.
        (A partial hash cleanup never deleted is unmigratable: "W".)
    "T" not a hash  "W" workspace_id missing  "I" invalid  "M" job_id mismatch
    "J" job_id missing or empty   "V" vanished
  details (mode "A" only), for each "D" key in order: the key to delete (victim), the
    other key of its pair, the victim's PTTL, the digests (sha1 of DUMP) of the victim
    and of the other key, the number of the victim's field/value items, then those items.
]]
#include lib/jobKey.lua
local oldPrefix, newPrefix, side, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local execute, archiving = mode == "1", mode == "A"
local tombstones = ARGV[5]
local skip = #oldPrefix
local out, details = {}, {}
-- Deleted together after the loop: one UNLINK and one SADD per chunk, not per key. Still
-- one script, so still atomic with every comparison above.
local victims, deleted = {}, {}

-- Same fields, same bytes (field order aside).
local function same(a, b)
  if #a ~= #b then
    return false
  end
  -- A copy of a small (listpack) hash lists its fields in the same order: no table needed.
  local inOrder = true
  for j = 1, #a do
    if a[j] ~= b[j] then
      inOrder = false
      break
    end
  end
  if inOrder then
    return true
  end
  local map = {}
  for j = 1, #b, 2 do
    map[b[j]] = b[j + 1]
  end
  for j = 1, #a, 2 do
    if map[a[j]] ~= a[j + 1] then
      return false
    end
  end
  return true
end

for i, oldKey in ipairs(KEYS) do
  local code
  -- One HGETALL per key: a wrong type is an error, a missing key an empty reply.
  local old = redis.pcall("HGETALL", oldKey)
  if old["err"] then
    code = "T"
  elseif #old == 0 then
    code = "V"
  else
    local ws, jobId = field(old, "workspace_id"), field(old, "job_id")
    local suffix = string.sub(oldKey, skip + 1)
    if not ws and not jobId and field(old, "status") and tombstones ~= ""
        and redis.call("SISMEMBER", tombstones, oldKey) == 1 then
      -- A partial hash at a key cleanup deleted: update_status re-created it.
      code = "P"
    elseif not ws then
      code = "W"
    elseif jobKeyProblem(ws, jobId, suffix) then
      code = jobKeyProblem(ws, jobId, suffix)
    else
      local newKey = newPrefix .. ws .. ":" .. suffix
      local victim = side == "new" and newKey or oldKey
      local new = redis.pcall("HGETALL", newKey)
      if new["err"] then
        code = "Y"
      elseif #new == 0 then
        code = "N"
      elseif not same(old, new) then
        code = "X"
      else
        code = "D"
        if archiving then
          local other = side == "new" and oldKey or newKey
          local fields = side == "new" and new or old
          local d = #details
          details[d + 1] = victim
          details[d + 2] = other
          details[d + 3] = redis.call("PTTL", victim)
          details[d + 4] = redis.sha1hex(redis.call("DUMP", victim))
          details[d + 5] = redis.sha1hex(redis.call("DUMP", other))
          details[d + 6] = #fields
          for j = 1, #fields do
            details[d + 6 + j] = fields[j]
          end
        elseif execute then
          victims[#victims + 1] = victim
          if side ~= "new" then
            deleted[#deleted + 1] = oldKey
          end
        end
      end
    end
  end
  out[i] = code
end
for j = 1, #victims, 1000 do
  redis.call("UNLINK", unpack(victims, j, math.min(j + 999, #victims)))
end
if tombstones ~= "" then
  for j = 1, #deleted, 1000 do
    redis.call("SADD", tombstones, unpack(deleted, j, math.min(j + 999, #deleted)))
  end
end
return { table.concat(out), details }
