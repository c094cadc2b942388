-- Claims due retries of one shard: moves them from `due` to `claimed` with a lease, so a
-- scheduler that dies before its publish is confirmed loses nothing (the lease expires and
-- the next claim takes them back), and two schedulers never get the same entry.
-- KEYS: due, claimed   ARGV: now_ms, limit, lease_ms
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, ARGV[2])
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZADD', KEYS[1], now, m)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[2])
local lease = now + tonumber(ARGV[3])
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZADD', KEYS[2], lease, m)
end
return due
