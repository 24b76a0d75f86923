-- Shared by the scripts that read whole hashes into Lua (verifyPairs-n, compareAndDelete-n,
-- readHashes-0), pasted in where they say "#include lib/oversized.lua".
-- The size in bytes of a key too big to read into a script within the command budget
-- (maxBytes), else nil. MEMORY USAGE with SAMPLES 0 counts every field (an estimate from a
-- few samples would miss one huge field); about 1-2.5 µs a call for a job hash, measured.
local function oversized(key, maxBytes)
  local bytes = redis.call("MEMORY", "USAGE", key, "SAMPLES", "0")
  if bytes and bytes > maxBytes then
    return bytes
  end
  return nil
end
