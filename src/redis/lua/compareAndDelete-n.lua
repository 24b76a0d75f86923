--[[
  compareAndDelete: for each old job key, delete one side of its pair (the old key, or
  with side "new" the new key) only if the new key exists and holds exactly the old
  key's fields, byte for byte, at this instant. A single instance only: one script sees
  both keys, so nothing can change between the comparison and the UNLINK (or, with an
  archive, the RENAME that moves the key aside until its record is written).

  Input:
    KEYS[1..n]  old keys
    ARGV[1] old prefix   ARGV[2] new prefix   ARGV[3] side: "old" or "new"
    ARGV[4] "1" to delete; "0" to only report what would be deleted (dry run); "A" to
            move it aside instead (RENAMENX to ARGV[6] .. key, TTL kept) and return what
            its archive record needs: the caller writes the records, then UNLINKs the
            moved keys (and the next cleanup settles any a crash left behind)
    ARGV[5] a set to record each deleted old key in (the rollback's tombstones), or ""
    ARGV[6] mode "A": the prefix of the keys moved aside
    ARGV[7] mode "A": a counter of keys moved aside and not yet deleted (above 0 with no
            run going: a crash left keys aside)
    ARGV[8] bytes above which a key is not read here (the command budget): code "O"
    ARGV[9..] mode "A": keys moved aside by earlier calls whose archive records are now
            written: deleted here (UNLINK, counter decreased), saving a round trip
  Atomic per pair: each pair's comparison and its deletion happen in one script, which
  is all §3.3 needs; a call holds only a chunk of a batch (the command budget).
  Output: { codes, details }. codes: a string of n characters, one per key in KEYS order:
    "D" deleted (or, dry run, would be deleted; mode "A", moved aside)
    "K" kept: a key moved aside for the same name is still there (an interrupted run's)
    "N" new key missing   "Y" new key not a hash   "X" pair differs (kept)
    "P" partial old hash (no workspace_id nor job_id, but a status) at a key cleanup
        deleted: update_status re-created it, so old-schema writes are still on.
        (A partial hash cleanup never deleted is unmigratable: "H".)
    "T" not a hash  "W" workspace_id missing  "H" partial hash  "I" invalid
    "M" job_id mismatch
    "J" job_id missing or empty   "V" vanished
    "O" oversized: a key of the pair is too big to compare within the budget (kept)
  details (mode "A" only), for each "D" key in order: the key moved aside (its name
    before the move), its PTTL, its number of field/value items, and the items joined by
    a zero byte (one reply string per key is much cheaper for Redis than returning the
    items themselves, and joining cheaper than cjson.encode). The caller splits on zero
    bytes: more parts than items means a field held a zero byte, and it reads that hash
    back from its aside key instead.
]]
#include lib/oversized.lua
#include lib/jobKey.lua
local oldPrefix, newPrefix, side, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local execute, archiving = mode == "1", mode == "A"
local tombstones, aside, asideCount = ARGV[5], ARGV[6], ARGV[7]
local maxBytes = tonumber(ARGV[8])
local moved = 0
local skip = #oldPrefix
local out, details = {}, {}
-- Deleted together after the loop: one UNLINK and one SADD per chunk, not per key. Still
-- one script, so still atomic with every comparison above.
local victims, deleted = {}, {}

-- Same fields, same bytes (field order aside).
local function same(a, b)
  if #a ~= #b then
    return false
  end
  -- A copy of a small (listpack) hash lists its fields in the same order: no table needed.
  local inOrder = true
  for j = 1, #a do
    if a[j] ~= b[j] then
      inOrder = false
      break
    end
  end
  if inOrder then
    return true
  end
  local map = {}
  for j = 1, #b, 2 do
    map[b[j]] = b[j + 1]
  end
  for j = 1, #a, 2 do
    if map[a[j]] ~= a[j + 1] then
      return false
    end
  end
  return true
end

for i, oldKey in ipairs(KEYS) do
  local old, code, newKey = oldJob(oldKey, skip, newPrefix, maxBytes)
  if code == "H" and tombstones ~= "" and redis.call("SISMEMBER", tombstones, oldKey) == 1 then
    -- A partial hash at a key cleanup deleted: update_status re-created it.
    code = "P"
  elseif not code and oversized(newKey, maxBytes) then
    code = "O"
  elseif not code then
    local victim = side == "new" and newKey or oldKey
    local new = redis.pcall("HGETALL", newKey)
    if new["err"] then
      code = "Y"
    elseif #new == 0 then
      code = "N"
    elseif not same(old, new) then
      code = "X"
    else
      code = "D"
      if archiving then
        local pttl = redis.call("PTTL", victim)
        if redis.call("RENAMENX", victim, aside .. victim) == 1 then
          moved = moved + 1
          local d = #details
          local items = side == "new" and new or old
          details[d + 1] = victim
          details[d + 2] = pttl
          details[d + 3] = #items
          details[d + 4] = table.concat(items, "\0")
          if side ~= "new" then
            deleted[#deleted + 1] = oldKey
          end
        else
          code = "K"
        end
      elseif execute then
        victims[#victims + 1] = victim
        if side ~= "new" then
          deleted[#deleted + 1] = oldKey
        end
      end
    end
  end
  out[i] = code
end
for j = 1, #victims, 1000 do
  redis.call("UNLINK", unpack(victims, j, math.min(j + 999, #victims)))
end
if tombstones ~= "" then
  for j = 1, #deleted, 1000 do
    redis.call("SADD", tombstones, unpack(deleted, j, math.min(j + 999, #deleted)))
  end
end
local gone = 0
for j = 9, #ARGV, 1000 do
  gone = gone + redis.call("UNLINK", unpack(ARGV, j, math.min(j + 999, #ARGV)))
end
if moved ~= gone then
  redis.call("INCRBY", asideCount, moved - gone)
end
return { table.concat(out), details }
