-- Sets the lease of an event that is still being processed (renewal, take-over,
-- release); an event already done or expired is left alone, never recreated.
-- KEYS: event hash
-- ARGV: lease until, ms since the epoch (0 releases it)
-- Returns 1 when set, 0 when the event is not being processed.
if redis.call('HGET', KEYS[1], 'state') == 'processing' then
  redis.call('HSET', KEYS[1], 'lease', ARGV[1])
  return 1
end
return 0
