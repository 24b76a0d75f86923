--[[
  copyIfAbsent: copy each old job hash to its new key, only where the new key is absent.

  Runs on a single instance, where one script sees both keys of a pair: the check and
  the COPY happen atomically, so no application update can slip between them and leave
  a stale copy (DESIGN §3.2). COPY without REPLACE keeps the TTL and the bytes.

  Input:
    KEYS[1..n]  old keys (e.g. ai:jobs:job-42)
    ARGV[1]     old prefix (e.g. ai:jobs:)
    ARGV[2]     new prefix (e.g. ai:job:)
  Output: a string of n characters, one code per key, in KEYS order (one bulk reply is
  much cheaper to build and parse than an array of n integers):
    "C" copied                      "P" new key already present (left untouched)
    "T" old key is not a hash       "W" workspace_id field missing  "H" partial hash
    "I" workspace_id invalid        "M" job_id field differs from the key
    "J" job_id field missing or empty       "V" old key vanished before it was read
    "X" key does not start with the old prefix
]]
#include lib/oversized.lua
#include lib/jobKey.lua
local oldPrefix = ARGV[1]
local newPrefix = ARGV[2]
local skip = #oldPrefix
local out = {}
for i, oldKey in ipairs(KEYS) do
  local code
  if string.sub(oldKey, 1, skip) ~= oldPrefix then
    code = "X"
  else
    -- HMGET instead of TYPE + HMGET: one call per key on the hot path; a wrong type
    -- comes back as an error table, a missing key as two nils.
    local fields = redis.pcall("HMGET", oldKey, "workspace_id", "job_id", "status")
    if fields["err"] then
      code = "T"
    else
      local ws, jobId = fields[1], fields[2]
      local suffix = string.sub(oldKey, skip + 1)
      if not ws then
        code = (redis.call("EXISTS", oldKey) == 0) and "V" or noWorkspace(jobId, fields[3])
      elseif jobKeyProblem(ws, jobId, suffix) then
        code = jobKeyProblem(ws, jobId, suffix)
      elseif redis.call("COPY", oldKey, newPrefix .. ws .. ":" .. suffix) == 1 then
        code = "C"
      else
        code = "P"
      end
    end
  end
  out[i] = code
end
return table.concat(out)
