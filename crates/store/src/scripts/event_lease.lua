-- Sets the lease of an event that is still being processed (renewal, release): its
-- end, on Redis's clock, is the last part of the state (event_state.lua). An event
-- already done or expired is left alone, never recreated.
-- KEYS: event state
-- ARGV: lease_ms from now (0 releases it)
-- Returns 1 when set, 0 when the event is not being processed.
local received_at = processing(redis.call('GET', KEYS[1]))
if not received_at then
  return 0
end
local ends = 0
if ARGV[1] ~= '0' then
  ends = now + tonumber(ARGV[1])
end
redis.call('SET', KEYS[1], leased(received_at, ends), 'KEEPTTL')
return 1
