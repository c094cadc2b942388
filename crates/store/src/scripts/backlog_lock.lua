-- Takes or renews a lock: a hook backlog's (one drain at a time works through it), or the
-- keyspace rebuild's (one process at a time puts back what PostgreSQL holds).
-- KEYS: lock   ARGV: token, lease_ms
-- Returns 0 when the caller holds the lock now, else the ms until it frees.
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
return math.max(redis.call('PTTL', KEYS[1]), 1)
