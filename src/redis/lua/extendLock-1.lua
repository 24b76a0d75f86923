--[[
  extendLock: heartbeat; push the lock's expiry forward only if this run still owns it.

  Input:  KEYS[1] lock key; ARGV[1] the owner's token (the whole lock value); ARGV[2] ttl ms
  Output: 1 extended, 0 the lock is gone or held by another run
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0
