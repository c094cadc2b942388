-- A slot among a hook's requests in flight across every worker. Slots are leased, so
-- that a worker that dies holding one frees it when the lease ends.
-- KEYS: the hook's in-flight sorted set (token -> lease end, ms)
-- ARGV: token, max, lease_ms
-- Returns 1 when the slot is taken, 0 when all are busy.
-- (Run after clock.lua: `now`.)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
