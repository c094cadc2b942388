-- Stores tasks in the retry set, due a delay from now on Redis's clock: the claim
-- compares with that clock, so the caller's own clock only measures the delay.
-- KEYS: the shards' due sets named by the entries
-- ARGV: 'LT' (keep an earlier due time of a task held already) or '', then per task:
--       its key's position in KEYS, delay_ms (may be negative: overdue), member
-- (Run after clock.lua: `now`.)
local lt = ARGV[1] == 'LT'
for i = 2, #ARGV, 3 do
  local key = KEYS[tonumber(ARGV[i])]
  local at = string.format('%d', now + tonumber(ARGV[i + 1]))
  if lt then
    redis.call('ZADD', key, 'LT', at, ARGV[i + 2])
  else
    redis.call('ZADD', key, at, ARGV[i + 2])
  end
end
return (#ARGV - 1) / 3
