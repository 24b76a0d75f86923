#!lua flags=no-writes,allow-cross-slot-keys
--[[
  dumpKeys: the DUMP of many keys of one node in one call (cleanup on a Cluster compares
  each new key's with its old key's). Keys come as arguments for the reason given in
  dumpJobs-0.lua.

  Input:  ARGV[1..n] keys, all served by the node the script runs on
  Output: per key in ARGV order, its DUMP payload, or false when it does not exist
]]
local out = {}
for i, key in ipairs(ARGV) do
  out[i] = redis.call("DUMP", key)
end
return out
