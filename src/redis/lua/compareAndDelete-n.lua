--[[
  compareAndDelete: for each old job key, delete one side of its pair (the old key, or
  with side "new" the new key) only if the new key exists and holds exactly the old
  key's fields, byte for byte, at this instant. A single instance only: one script sees
  both keys, so nothing can change between the comparison and the UNLINK.

  Input:
    KEYS[1..n]  old keys
    ARGV[1] old prefix   ARGV[2] new prefix   ARGV[3] side: "old" or "new"
    ARGV[4] "1" to delete, "0" to only report what would be deleted (dry run)
    ARGV[5] a set to record each deleted old key in (the rollback's tombstones), or ""
    ARGV[6..n+5] optional expected DUMP of the key to delete ("" = no expectation):
                 with an archive, a key is deleted only if it is still what was archived
  Output: a string of n characters, one per key in KEYS order:
    "D" deleted (or, dry run, would be deleted)   "C" changed since archived (kept)
    "N" new key missing   "Y" new key not a hash   "X" pair differs (kept)
    "P" partial old hash (no workspace_id nor job_id, but a status) at a key cleanup
        deleted: update_status re-created it, so old-schema writes are still on.
        (A partial hash cleanup never deleted is unmigratable: "W".)
    "T" not a hash  "W" workspace_id missing  "I" invalid  "M" job_id mismatch
    "J" job_id missing or empty   "V" vanished
]]
#include lib/jobKey.lua
local oldPrefix, newPrefix, side, execute = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == "1"
local tombstones = ARGV[5]
local skip = #oldPrefix
local out = {}
-- Deleted together after the loop: one UNLINK and one SADD per chunk, not per key. Still
-- one script, so still atomic with every comparison above.
local victims, deleted = {}, {}

-- Same fields, same bytes (field order aside).
local function same(a, b)
  if #a ~= #b then
    return false
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
      local expected = ARGV[5 + i]
      if new["err"] then
        code = "Y"
      elseif #new == 0 then
        code = "N"
      elseif expected and expected ~= "" and redis.call("DUMP", victim) ~= expected then
        code = "C"
      elseif not same(old, new) then
        code = "X"
      else
        code = "D"
        if execute then
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
return table.concat(out)
