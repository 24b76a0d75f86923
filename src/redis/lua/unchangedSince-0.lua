#!lua flags=no-writes,allow-cross-slot-keys
--[[
  unchangedSince: for many keys of one node, whether each still serializes exactly as a
  DUMP taken earlier. Used to confirm a copy: an old key unchanged since the snapshot its
  new key was restored from received no update the new key could have missed. A "0" may
  also mean the same content re-encoded; the caller then compares field by field.

  Input:  ARGV[1] n; ARGV[2..n+1] keys, all served by this node; ARGV[n+2..2n+1] payloads
  Output: a string of n characters: "1" unchanged, "0" changed or gone
]]
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  out[i] = (redis.call("DUMP", ARGV[i + 1]) == ARGV[n + 1 + i]) and "1" or "0"
end
return table.concat(out)
