#!lua flags=no-writes,allow-cross-slot-keys
--[[
  readHashes: for many keys of one node, each key's type, remaining TTL and (for a hash)
  every field, in one call. Keys come as arguments for the reason given in dumpJobs-0.lua.

  Input:  ARGV[1..n] keys, all served by the node the script runs on
  Output: a flat array, per key in ARGV order: type ("none" when missing), pttl,
          m (fields, 0 unless a hash), field1, value1, ..., fieldm, valuem
]]
local out = {}
for _, key in ipairs(ARGV) do
  local t = redis.call("TYPE", key)["ok"]
  out[#out + 1] = t
  out[#out + 1] = redis.call("PTTL", key)
  if t == "hash" then
    local flat = redis.call("HGETALL", key)
    out[#out + 1] = #flat / 2
    for i = 1, #flat do
      out[#out + 1] = flat[i]
    end
  else
    out[#out + 1] = 0
  end
end
return out
