#!lua flags=allow-cross-slot-keys
--[[
  deleteIfUnchanged: the second half of compare-and-delete on a Cluster, where the two
  keys of a pair live in different slots. The caller compared the pair after taking each
  key's DUMP; a key is deleted (UNLINK) only if it still DUMPs exactly as then, so a key
  changed after the comparison is never deleted. Keys come as arguments for the reason
  given in dumpJobs-0.lua.

  Input:  ARGV[1] n; ARGV[2..n+1] keys, all served by this node; ARGV[n+2..2n+1] DUMPs
  Output: a string of n characters: "D" deleted, "C" changed since compared (kept)
]]
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local key = ARGV[i + 1]
  if redis.call("DUMP", key) == ARGV[n + 1 + i] then
    redis.call("UNLINK", key)
    out[i] = "D"
  else
    out[i] = "C"
  end
end
return table.concat(out)
