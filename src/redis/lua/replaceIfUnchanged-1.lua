--[[
  replaceIfUnchanged: compare-and-set for a whole hash. Replace the content of KEYS[1]
  with the desired fields only if it still holds exactly the expected fields, so a
  repair never overwrites an application update that landed after the caller read it.
  The key keeps its own TTL.

  Input:  KEYS[1] key
          ARGV[1] n: number of expected field/value pairs
          ARGV[2 .. 2n+1] expected field, value, ...
          ARGV[2n+2 ..]   desired field, value, ...
  Output: 1 replaced, 0 content changed since it was read (nothing written),
          -1 key missing (nothing written)
]]
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
local n = tonumber(ARGV[1])
if redis.call("HLEN", KEYS[1]) ~= n then
  return 0
end
for i = 0, n - 1 do
  local f = ARGV[2 + 2 * i]
  if redis.call("HGET", KEYS[1], f) ~= ARGV[3 + 2 * i] then
    return 0
  end
end
local pttl = redis.call("PTTL", KEYS[1])
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], unpack(ARGV, 2 * n + 2))
if pttl > 0 then
  redis.call("PEXPIRE", KEYS[1], pttl)
end
return 1
