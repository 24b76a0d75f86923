--[[
  takeoverLock: replace a lock whose holder is proven dead, only if it is still exactly
  the value that was inspected (another run may have taken it over meanwhile).

  Input:  KEYS[1] lock key; ARGV[1] the stale value inspected; ARGV[2] new value; ARGV[3] ttl ms
  Output: 1 taken over, 0 the lock changed since it was inspected (nothing written)
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
  return 1
end
return 0
