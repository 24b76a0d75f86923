--[[
  snapshotHash: read a key's type, remaining TTL and (for a hash) every field, at one
  instant, so the TTL and the content handed to the client belong together.

  Input:  KEYS[1] the key
  Output: { type, pttl, field1, value1, field2, value2, ... }
          type is "none" for a missing key; fields only for a hash; pttl -1 = no TTL
]]
local t = redis.call("TYPE", KEYS[1])["ok"]
local out = { t, redis.call("PTTL", KEYS[1]) }
if t == "hash" then
  local flat = redis.call("HGETALL", KEYS[1])
  for i = 1, #flat do
    out[i + 2] = flat[i]
  end
end
return out
