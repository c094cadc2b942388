-- Registers deliveries in their ordering keys' queues, in the order given (the order
-- their events were accepted). One already registered keeps its place.
-- KEYS: per delivery: the key's queue, the key's state
-- ARGV: ttl_s, then per delivery: its member (`<delivery id>:<event id>`)
for i = 1, #KEYS / 2 do
  local q, s, m = KEYS[2 * i - 1], KEYS[2 * i], ARGV[i + 1]
  if not redis.call('ZSCORE', q, m) then
    redis.call('ZADD', q, redis.call('HINCRBY', s, 'seq', 1), m)
  end
  redis.call('EXPIRE', q, ARGV[1])
  redis.call('EXPIRE', s, ARGV[1])
end
return #KEYS / 2
