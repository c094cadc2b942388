-- Ends a drain's turn at a hook's backlog: disarms it when it is empty (so that the next
-- push must schedule a drain first; the disarm count tells a pusher that a drain it
-- counted on has ended), and lets go of the lock.
-- KEYS: backlog list, state hash, lock   ARGV: token, state_ttl_s
-- Returns the backlog's length (0: disarmed).
local left = redis.call('LLEN', KEYS[1])
if left == 0 then
  redis.call('HSET', KEYS[2], 'armed', '0')
  redis.call('HINCRBY', KEYS[2], 'disarms', 1)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
end
return left
