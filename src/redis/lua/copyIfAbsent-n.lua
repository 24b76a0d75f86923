--[[
  copyIfAbsent: copy each old job hash to its new key, only where the new key is absent.

  Runs on a single instance, where one script sees both keys of a pair: the check and
  the COPY happen atomically, so no application update can slip between them and leave
  a stale copy (DESIGN §3.2). COPY without REPLACE keeps the TTL and the bytes.

  Input:
    KEYS[1..n]  old keys (e.g. ai:jobs:job-42)
    ARGV[1]     old prefix (e.g. ai:jobs:)
    ARGV[2]     new prefix (e.g. ai:job:)
  Output: an array of n codes, one per key:
     1  copied
     0  new key already present (left untouched)
    -1  old key is not a hash        -2  workspace_id field missing
    -3  workspace_id invalid         -4  job_id field differs from the key
    -5  job_id field missing         -6  old key vanished before it was read
    -7  key does not start with the old prefix
]]
local oldPrefix = ARGV[1]
local newPrefix = ARGV[2]
local out = {}
for i, oldKey in ipairs(KEYS) do
  local code
  if string.sub(oldKey, 1, #oldPrefix) ~= oldPrefix then
    code = -7
  else
    local t = redis.call("TYPE", oldKey)["ok"]
    if t == "none" then
      code = -6
    elseif t ~= "hash" then
      code = -1
    else
      local fields = redis.call("HMGET", oldKey, "workspace_id", "job_id")
      local ws, jobId = fields[1], fields[2]
      local suffix = string.sub(oldKey, #oldPrefix + 1)
      if not ws then
        code = -2
      elseif #ws > 32 or not string.find(ws, "^[a-z0-9][a-z0-9_%-]*$") then
        code = -3
      elseif not jobId then
        code = -5
      elseif jobId ~= suffix then
        code = -4
      else
        code = redis.call("COPY", oldKey, newPrefix .. ws .. ":" .. suffix)
      end
    end
  end
  out[i] = code
end
return out
