#!lua flags=no-writes,allow-cross-slot-keys
--[[
  workspaceOf: the workspace_id of many (old) keys of one node in one call, for verify's
  orphan pass. Keys come as arguments for the reason given in dumpJobs-0.lua.

  Input:  ARGV[1..n] keys, all served by the node the script runs on
  Output: n entries: the workspace_id, or false when the key is missing, is not a hash,
          or has no workspace_id
]]
local out = {}
for i, key in ipairs(ARGV) do
  local ws = redis.pcall("HGET", key, "workspace_id")
  if type(ws) == "table" then
    ws = false
  end
  out[i] = ws or false
end
return out
