#!lua flags=no-writes,allow-cross-slot-keys
--[[
  readHashes: for many keys of one node, each key's type, remaining TTL and (for a hash)
  every field, in one call. Keys come as arguments for the reason given in dumpJobs-0.lua.

  Input:  ARGV[1..n] keys, all served by the node the script runs on
  Output: a flat array, per key in ARGV order: type ("none" when missing), pttl,
          m (fields, 0 unless a hash), field1, value1, ..., fieldm, valuem
]]
local out, n = {}, 0
for _, key in ipairs(ARGV) do
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
return out
