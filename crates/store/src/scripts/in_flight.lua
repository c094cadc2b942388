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
-- The set lives as long as its longest lease: a shorter lease taken after a longer one
-- must not end the longer one's slot with it.
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(last[2]) - now, 1))
return 1
