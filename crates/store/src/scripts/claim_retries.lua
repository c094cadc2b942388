-- Claims due retries of one shard: moves them from `due` to `claimed` with a lease, so a
-- scheduler that dies before its publish is confirmed loses nothing (the lease expires and
-- the next claim takes them back), and two schedulers never get the same entry. Scores
-- are Redis's clock (retry_schedule.lua writes them), so schedulers and workers whose
-- clocks differ still agree on what is due.
-- KEYS: due, claimed   ARGV: limit, lease_ms
-- Returns the entries claimed, the longest due first.
-- (Run after clock.lua: `now`.)
local limit = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZADD', KEYS[1], now, m)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
local lease = now + tonumber(ARGV[2])
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZADD', KEYS[2], lease, m)
end
return due
