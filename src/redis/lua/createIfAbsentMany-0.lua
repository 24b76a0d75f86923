#!lua flags=allow-cross-slot-keys
--[[
  createIfAbsentMany: createIfAbsent for many keys of one node in one call. Each key is
  created with its fields and TTL only if it does not exist; an existing key is never
  touched. The caller confirms the copies afterwards (copy-then-confirm).

  Keys come as arguments, not KEYS, for the reason given in snapshotHashes-0.lua.

  Input:  ARGV[1] n; ARGV[2..n+1] keys, all served by the node the script runs on;
          then per key in that order: pttl (<= 0: no TTL), m, field1, value1, ... (m pairs)
  Output: a string of n characters: "1" created, "0" already present
]]
local n = tonumber(ARGV[1])
local out = {}
local pos = n + 2
for i = 1, n do
  local key = ARGV[i + 1]
  local pttl = tonumber(ARGV[pos])
  local m = tonumber(ARGV[pos + 1])
  local first = pos + 2
  pos = first + 2 * m
  if redis.call("EXISTS", key) == 1 or m == 0 then
    out[i] = "0"
  else
    redis.call("HSET", key, unpack(ARGV, first, pos - 1))
    if pttl > 0 then
      redis.call("PEXPIRE", key, pttl)
    end
    out[i] = "1"
  end
end
return table.concat(out)
