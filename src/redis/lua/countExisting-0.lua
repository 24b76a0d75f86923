#!lua flags=allow-cross-slot-keys
--[[
  countExisting: which of many keys of one node exist, in one call (cleanup's check that
  the old keys it deleted were not re-created by the application). Keys come as
  arguments for the reason given in dumpJobs-0.lua.

  Input:  ARGV[1..n] keys, all served by the node the script runs on
  Output: the index (1-based) of the first key that exists, or 0 when none does
]]
for i, key in ipairs(ARGV) do
  if redis.call("EXISTS", key) == 1 then
    return i
  end
end
return 0
