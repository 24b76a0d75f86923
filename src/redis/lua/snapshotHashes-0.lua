#!lua flags=allow-cross-slot-keys
--[[
  snapshotHashes: for each key, its type, remaining TTL and (for a hash) every field,
  in one call per batch. On a Cluster the keys of one SCAN batch span many slots of
  the same node; allow-cross-slot-keys lets one script read them all there. They come
  as arguments, not KEYS: Redis 7.0 still refuses declared keys of several slots
  (CROSSSLOT), but lets a flagged script touch any key its node serves.

  Input:  ARGV[1..n] keys, all served by the node the script runs on
  Output: a flat array, per key in ARGV order:
          type ("none", "hash", "string", ...), pttl (-1 none, -2 missing),
          m (number of fields, 0 unless a hash), field1, value1, ..., fieldm, valuem
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
