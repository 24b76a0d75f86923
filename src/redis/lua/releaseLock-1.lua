--[[
  releaseLock: delete the lock only if this run owns it, never another run's lock.

  Input:  KEYS[1] lock key; ARGV[1] the owner's token (the whole lock value)
  Output: 1 released, 0 not ours (nothing deleted)
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
