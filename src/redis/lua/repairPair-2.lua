--[[
  repairPair: make a new key an exact copy of its old key (fields, bytes, TTL), in one
  atomic step on a single instance, only if they still differ. Atomic, so no application
  update can fall between the comparison and the copy; later updates reach both keys.

  Input:  KEYS[1] old key; KEYS[2] new key
  Output: 1 copied, 0 already equal (nothing written), -1 old key gone (nothing written)
]]
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
if redis.call("TYPE", KEYS[2])["ok"] == "hash" and redis.call("PTTL", KEYS[1]) == redis.call("PTTL", KEYS[2]) then
  local old = redis.call("HGETALL", KEYS[1])
  if redis.call("HLEN", KEYS[2]) * 2 == #old then
    local same = true
    for i = 1, #old, 2 do
      if redis.call("HGET", KEYS[2], old[i]) ~= old[i + 1] then
        same = false
        break
      end
    end
    if same then
      return 0
    end
  end
end
redis.call("COPY", KEYS[1], KEYS[2], "REPLACE")
return 1
