-- Sets the lease of an event that is still being processed (renewal, take-over,
-- release): the lease is a key of its own whose expiry is the lease's end, on Redis's
-- clock. An event already done or expired is left alone, never recreated.
-- KEYS: event state, event lease
-- ARGV: lease_ms from now (0 releases it)
-- Returns 1 when set, 0 when the event is not being processed.
local state = redis.call('GET', KEYS[1])
if not state or string.sub(state, 1, 2) ~= 'p:' then
  return 0
end
if ARGV[1] == '0' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
end
return 1
