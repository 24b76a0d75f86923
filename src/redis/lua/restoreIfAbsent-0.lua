#!lua flags=allow-cross-slot-keys
--[[
  restoreIfAbsent: create many keys of one node from DUMP payloads, each only if the key
  is absent; an existing key is never touched. Keys come as arguments for the reason
  given in dumpJobs-0.lua. The caller confirms the copies afterwards.

  Input:  ARGV[1] n; ARGV[2..n+1] keys, all served by the node the script runs on;
          then per key in that order: pttl (<= 0: no TTL), DUMP payload
  Output: a string of n characters: "1" created, "0" already present
]]
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local key = ARGV[i + 1]
  if redis.call("EXISTS", key) == 1 then
    out[i] = "0"
  else
    local pttl = tonumber(ARGV[n + 2 * i])
    redis.call("RESTORE", key, pttl > 0 and pttl or 0, ARGV[n + 2 * i + 1])
    out[i] = "1"
  end
end
return table.concat(out)
