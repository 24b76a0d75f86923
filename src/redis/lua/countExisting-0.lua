#!lua flags=no-writes,allow-cross-slot-keys
--[[
  countExisting: which of many keys of one node exist, in one call (cleanup's check that
  the old keys it deleted were not re-created by the application). Keys come as
  arguments for the reason given in dumpJobs-0.lua.

  Input:  ARGV[1..n] keys, all served by the node the script runs on
  Output: the index (1-based) of the first key that exists, or 0 when none does
]]
for j = 1, #ARGV, 1000 do
  local last = math.min(j + 999, #ARGV)
  -- One multi-key EXISTS per chunk when it is allowed (a single instance; a Cluster
  -- refuses keys of several slots in one command), else one EXISTS per key.
  local found = redis.pcall("EXISTS", unpack(ARGV, j, last))
  if type(found) ~= "number" or found > 0 then
    for i = j, last do
      if redis.call("EXISTS", ARGV[i]) == 1 then
        return i
      end
    end
  end
end
return 0
