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
    "P" partial old hash: no workspace_id nor job_id, but a status (the application
        re-created it with update_status: its old-schema writes are still on)
    "T" not a hash  "W" workspace_id missing  "I" invalid  "M" job_id mismatch
    "J" job_id missing or empty   "V" vanished
]]
local oldPrefix, newPrefix, side, execute = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == "1"
local tombstones = ARGV[5]
local skip = #oldPrefix
local out = {}
for i, oldKey in ipairs(KEYS) do
  local code
  local f = redis.pcall("HMGET", oldKey, "workspace_id", "job_id", "status")
  if f["err"] then
    code = "T"
  else
    local ws, jobId, status = f[1], f[2], f[3]
    local suffix = string.sub(oldKey, skip + 1)
    if not ws and not jobId and status then
      code = "P"
    elseif not ws then
      code = (redis.call("EXISTS", oldKey) == 0) and "V" or "W"
    elseif #ws > 32 or not string.find(ws, "^[a-z0-9][a-z0-9_%-]*$") then
      code = "I"
    elseif not jobId or jobId == "" then
      code = "J"
    elseif jobId ~= suffix then
      code = "M"
    else
      local newKey = newPrefix .. ws .. ":" .. suffix
      local newType = redis.call("TYPE", newKey)["ok"]
      local expected = ARGV[5 + i]
      if newType == "none" then
        code = "N"
      elseif newType ~= "hash" then
        code = "Y"
      elseif expected and expected ~= "" and redis.call("DUMP", side == "new" and newKey or oldKey) ~= expected then
        code = "C"
      else
        local old = redis.call("HGETALL", oldKey)
        code = "D"
        if redis.call("HLEN", newKey) * 2 ~= #old then
          code = "X"
        else
          for j = 1, #old, 2 do
            if redis.call("HGET", newKey, old[j]) ~= old[j + 1] then
              code = "X"
              break
            end
          end
        end
        if code == "D" and execute then
          redis.call("UNLINK", side == "new" and newKey or oldKey)
          if side ~= "new" and tombstones ~= "" then
            redis.call("SADD", tombstones, oldKey)
          end
        end
      end
    end
  end
  out[i] = code
end
return table.concat(out)
