--[[
  restoreHash: put an archived hash back, fields and bytes as archived, with its
  original expiry time. Never overwrites an existing key unless forced.

  Input:  KEYS[1] key; ARGV[1] "1" to overwrite an existing key; ARGV[2] absolute expiry
          in unix ms (0: none); ARGV[3..] field, value, ...
  Output: 1 restored, 0 the key exists (untouched)
]]
if redis.call("EXISTS", KEYS[1]) == 1 then
  if ARGV[1] ~= "1" then
    return 0
  end
  redis.call("DEL", KEYS[1])
end
redis.call("HSET", KEYS[1], unpack(ARGV, 3))
local at = tonumber(ARGV[2])
if at > 0 then
  redis.call("PEXPIREAT", KEYS[1], at)
end
return 1
