#!lua flags=allow-cross-slot-keys
--[[
  dumpJobs: snapshot many old job keys of one node in one call, for copy-then-confirm on
  a Cluster: each key's type, TTL, the two fields that decide its new key, and its DUMP
  (the exact serialized value, so the bytes travel untouched and cheaply).

  On a Cluster the keys of one SCAN batch span many slots of the same node. They come as
  arguments, not KEYS: Redis 7.0 refuses declared keys of several slots (CROSSSLOT) but
  lets a script flagged allow-cross-slot-keys touch any key its node serves.

  Input:  ARGV[1..n] keys, all served by the node the script runs on
  Output: a flat array of 6 entries per key, in ARGV order:
          type ("none", "hash", ...), pttl (-1 none), workspace_id or false,
          job_id or false, DUMP payload or false (false unless a hash),
          1 if the hash has a status field else 0
]]
local out = {}
for _, key in ipairs(ARGV) do
  local t = redis.call("TYPE", key)["ok"]
  local n = #out
  out[n + 1] = t
  out[n + 2] = redis.call("PTTL", key)
  if t == "hash" then
    local f = redis.call("HMGET", key, "workspace_id", "job_id", "status")
    out[n + 3] = f[1]
    out[n + 4] = f[2]
    out[n + 5] = redis.call("DUMP", key)
    out[n + 6] = f[3] and 1 or 0
  else
    out[n + 3] = false
    out[n + 4] = false
    out[n + 5] = false
    out[n + 6] = 0
  end
end
return out
