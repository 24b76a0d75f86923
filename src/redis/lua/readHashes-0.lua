#!lua flags=no-writes,allow-cross-slot-keys
--[[
  readHashes: for many keys of one node, each key's type, remaining TTL and (for a hash)
  every field, in one call. Keys come as arguments for the reason given in dumpJobs-0.lua.

  Input:  ARGV[1] bytes above which a key is not read here (the command budget)
          ARGV[2..n+1] keys, all served by the node the script runs on
  Output: a flat array, per key in ARGV order: type ("none" when missing, "oversized"
          when bigger than ARGV[1]: the caller reads it in pages), pttl,
          m (fields, 0 unless a hash), field1, value1, ..., fieldm, valuem
]]
#include lib/oversized.lua
local maxBytes = tonumber(ARGV[1])
local out, n = {}, 0
for a = 2, #ARGV do
  local key = ARGV[a]
  if oversized(key, maxBytes) then
    out[n + 1], out[n + 2], out[n + 3] = "oversized", redis.call("PTTL", key), 0
    n = n + 3
  else
    -- HGETALL first: a hash (the usual case) needs no TYPE call; another type is an
    -- error, and a missing key an empty reply (a hash is never empty).
    local flat = redis.pcall("HGETALL", key)
    local t = flat["err"] and redis.call("TYPE", key)["ok"] or (#flat == 0 and "none" or "hash")
    out[n + 1], out[n + 2] = t, redis.call("PTTL", key)
    n = n + 2
    if t == "hash" then
      out[n + 1] = #flat / 2
      for i = 1, #flat do
        out[n + 1 + i] = flat[i]
      end
      n = n + 1 + #flat
    else
      out[n + 1] = 0
      n = n + 1
    end
  end
end
return out
