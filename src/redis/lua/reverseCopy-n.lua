--[[
  reverseCopy: rollback after cleanup began; rebuild old job keys from new ones, on a
  single instance, atomically per pair.

  Input:
    KEYS[1..n]  new keys (ai:job:{workspace_id}:{job_id})
    ARGV[1] new prefix   ARGV[2] old prefix
    ARGV[3] the set of old keys cleanup deleted (tombstones)
    ARGV[4] "1" to also create old keys for new keys that never had one
  Output: a string of n characters, one per key in KEYS order:
    "R" old key rebuilt (cleanup had deleted it, or asked to create it)
    "P" partial old hash (a consistent subset of the new one) replaced by a copy of it
    "=" old key already equal      "X" old key differs otherwise (conflict, kept)
    "H" new key never had an old key (skipped)   "F" not a job key (no workspace part)
    "T" new key not a hash
]]
local newPrefix, oldPrefix, tombstones, recreate = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == "1"
local out = {}
for i, newKey in ipairs(KEYS) do
  local code
  local rest = string.sub(newKey, #newPrefix + 1)
  local colon = string.find(rest, ":", 1, true)
  if not colon or colon == 1 or colon == #rest then
    code = "F"
  elseif redis.call("TYPE", newKey)["ok"] ~= "hash" then
    code = "T"
  else
    local oldKey = oldPrefix .. string.sub(rest, colon + 1)
    local oldType = redis.call("TYPE", oldKey)["ok"]
    if oldType == "none" then
      if recreate or redis.call("SISMEMBER", tombstones, oldKey) == 1 then
        redis.call("COPY", newKey, oldKey)
        code = "R"
      else
        code = "H"
      end
    elseif oldType ~= "hash" then
      code = "X"
    else
      local old = redis.call("HGETALL", oldKey)
      local subset = true
      for j = 1, #old, 2 do
        if redis.call("HGET", newKey, old[j]) ~= old[j + 1] then
          subset = false
          break
        end
      end
      if subset and #old == redis.call("HLEN", newKey) * 2 then
        code = "="
      elseif subset and redis.call("HEXISTS", oldKey, "workspace_id") == 0 and redis.call("HEXISTS", oldKey, "job_id") == 0 then
        redis.call("COPY", newKey, oldKey, "REPLACE")
        code = "P"
      else
        code = "X"
      end
    end
  end
  out[i] = code
end
return table.concat(out)
