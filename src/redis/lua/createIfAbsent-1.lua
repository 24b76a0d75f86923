--[[
  createIfAbsent: create a hash with the given fields and TTL only if the key is absent.
  Used on a Cluster, where the old and new keys live in different slots and cannot be
  seen by one script; the caller confirms the copy afterwards (copy-then-confirm).

  Input:  KEYS[1] new key; ARGV[1] pttl in ms (<= 0: no TTL); ARGV[2..] field, value, ...
  Output: 1 created, 0 key already present (untouched)
]]
if redis.call("EXISTS", KEYS[1]) == 1 then
  return 0
end
redis.call("HSET", KEYS[1], unpack(ARGV, 2))
local pttl = tonumber(ARGV[1])
if pttl > 0 then
  redis.call("PEXPIRE", KEYS[1], pttl)
end
return 1
