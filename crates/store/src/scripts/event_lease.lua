-- Sets the lease of an event that is still being processed (renewal, take-over,
-- release); an event already done or expired is left alone, never recreated.
-- KEYS: event hash
-- ARGV: lease_ms from now on Redis's clock (0 releases it)
-- Returns 1 when set, 0 when the event is not being processed.
-- (Run after clock.lua: `now`.)
if redis.call('HGET', KEYS[1], 'state') == 'processing' then
  local ms = tonumber(ARGV[1])
  redis.call('HSET', KEYS[1], 'lease', ms > 0 and now + ms or 0)
  return 1
end
return 0
