--[[
  deleteUnchangedPairs: the delete step of cleanup with an archive, on a single instance.
  compareAndDelete-n.lua (mode "A") proved each pair equal and returned, with the hash to
  archive, the digest (sha1 of DUMP) of both keys; the caller wrote the archive records.
  A key is deleted only if both keys of its pair still have those digests: unchanged
  since the comparison, so still equal, and still exactly what was archived.

  Input:
    KEYS[1..n] the keys to delete   KEYS[n+1..2n] the other key of each one's pair
    ARGV[1] a set to record each deleted key in (the rollback's tombstones), or ""
    ARGV[2..n+1] digests of the keys to delete   ARGV[n+2..2n+1] digests of the others
  Output: a string of n characters: "D" deleted, "C" changed since compared (kept)
]]
local n = #KEYS / 2
local tombstones = ARGV[1]
local out, victims = {}, {}
local function digest(key)
  local dump = redis.call("DUMP", key)
  return dump and redis.sha1hex(dump) or ""
end
for i = 1, n do
  if digest(KEYS[i]) == ARGV[1 + i] and digest(KEYS[n + i]) == ARGV[1 + n + i] then
    victims[#victims + 1] = KEYS[i]
    out[i] = "D"
  else
    out[i] = "C"
  end
end
for j = 1, #victims, 1000 do
  local chunk = { unpack(victims, j, math.min(j + 999, #victims)) }
  redis.call("UNLINK", unpack(chunk))
  if tombstones ~= "" then
    redis.call("SADD", tombstones, unpack(chunk))
  end
end
return table.concat(out)
