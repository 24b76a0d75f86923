#!lua flags=no-writes
--[[
  verifyPairs: compare each old job hash with its new key, field by field and byte by
  byte, at one instant (a single instance, where one script sees both keys: a pair is
  never read half before and half after an application write).

  Input:
    KEYS[1..n]  old keys
    ARGV[1]     old prefix;  ARGV[2] new prefix
    ARGV[3]     TTL tolerance in ms (remaining TTLs further apart are a divergence)
    ARGV[4]     workspace filter: "" for all, else ",ws-1,ws-2," (commas around each)
    ARGV[5]     bytes above which a key is not read here (the command budget; see "O")
  Atomic per pair, and a call holds a chunk of a batch: pass 1 needs no more than each
  pair read at one instant (a pair that looks divergent is re-read later anyway).
  Output: { codes, details }
    codes: a string of n characters, one per key in KEYS order:
      "=" pair equal            "D" divergent (one entry in details)
      "S" workspace not in the filter (not checked)
      "T" old key not a hash    "W" workspace_id missing   "H" partial hash
      "I" workspace_id invalid
      "M" job_id differs from the key   "J" job_id missing or empty   "V" old key vanished
      "O" a key of the pair is oversized (too big to read here within the budget): the
          caller compares it by a bounded path
    details: per "D", in order, a flat run of entries:
      new key, new type ("none" when missing), old pttl, new pttl,
      d, d field names whose values differ,
      m, m field names missing from the new key,
      e, e field names only in the new key
]]
#include lib/oversized.lua
#include lib/jobKey.lua
local oldPrefix, newPrefix = ARGV[1], ARGV[2]
local tolerance = tonumber(ARGV[3])
local filter = ARGV[4]
local maxBytes = tonumber(ARGV[5])
local skip = #oldPrefix
local codes, details = {}, {}

local function push(v)
  details[#details + 1] = v
end

local function pushList(list)
  push(#list)
  for _, v in ipairs(list) do
    push(v)
  end
end

for i, oldKey in ipairs(KEYS) do
  local old, code, newKey, ws = oldJob(oldKey, skip, newPrefix, maxBytes)
  if not code and filter ~= "" and not string.find(filter, "," .. ws .. ",", 1, true) then
    code = "S"
  elseif not code and oversized(newKey, maxBytes) then
    code = "O"
  elseif not code then
    local new = redis.pcall("HGETALL", newKey)
    local newType = "hash"
    if new["err"] then
      newType = redis.call("TYPE", newKey)["ok"]
    elseif #new == 0 then
      newType = "none"
    end
    local oldTtl, newTtl = redis.call("PTTL", oldKey), redis.call("PTTL", newKey)
    local differs, missing, extra = {}, {}, {}
    if newType == "hash" then
      local newMap = {}
      for j = 1, #new, 2 do
        newMap[new[j]] = new[j + 1]
      end
      for j = 1, #old, 2 do
        local v = newMap[old[j]]
        if v == nil then
          missing[#missing + 1] = old[j]
        elseif v ~= old[j + 1] then
          differs[#differs + 1] = old[j]
        end
        newMap[old[j]] = nil
      end
      for f, _ in pairs(newMap) do
        extra[#extra + 1] = f
      end
    end
    local ttlOff = (oldTtl < 0) ~= (newTtl < 0) or math.abs(oldTtl - newTtl) > tolerance
    if newType == "hash" and #differs == 0 and #missing == 0 and #extra == 0 and not ttlOff then
      code = "="
    else
      code = "D"
      push(newKey)
      push(newType)
      push(oldTtl)
      push(newTtl)
      pushList(differs)
      pushList(missing)
      pushList(extra)
    end
  end
  codes[i] = code
end
return { table.concat(codes), details }
