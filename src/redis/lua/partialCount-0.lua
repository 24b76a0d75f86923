#!lua flags=no-writes,allow-cross-slot-keys
--[[
  partialCount: how many of these old job keys are partial hashes: no workspace_id and no
  job_id, but a status (what update_status leaves when it re-creates a deleted old key).
  Keys come as arguments for the reason given in dumpJobs-0.lua.

  Input:  ARGV[1..n] keys, all served by the node the script runs on
  Output: the number of partial hashes among them
]]
local n = 0
for _, key in ipairs(ARGV) do
  local f = redis.pcall("HMGET", key, "workspace_id", "job_id", "status")
  if not f["err"] and not f[1] and not f[2] and f[3] then
    n = n + 1
  end
end
return n
