#!lua flags=no-writes,allow-cross-slot-keys
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
local out, n = {}, 0
for _, key in ipairs(ARGV) do
  -- HMGET first: a hash (the usual case) needs no TYPE call; another type is an error,
  -- and a missing key reads as nils with no DUMP.
  local f = redis.pcall("HMGET", key, "workspace_id", "job_id", "status")
  local dump = not f["err"] and redis.call("DUMP", key)
  if dump then
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = "hash", redis.call("PTTL", key), f[1], f[2]
    out[n + 5], out[n + 6] = dump, f[3] and 1 or 0
  else
    local t = f["err"] and redis.call("TYPE", key)["ok"] or "none"
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = t, redis.call("PTTL", key), false, false
    out[n + 5], out[n + 6] = false, 0
  end
  n = n + 6
end
return out
