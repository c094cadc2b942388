-- Sets the lease of an event that is still being processed (renewal, release): its
-- end, on Redis's clock, is the last part of the state (`p:<received_at>:<lease end>`).
-- An event already done or expired is left alone, never recreated.
-- KEYS: event state
-- ARGV: lease_ms from now (0 releases it)
-- Returns 1 when set, 0 when the event is not being processed.
local state = redis.call('GET', KEYS[1])
local received_at = state and string.match(state, '^p:(%-?%d+)')
if not received_at then
  return 0
end
local ends = 0
if ARGV[1] ~= '0' then
  ends = now + tonumber(ARGV[1])
end
redis.call('SET', KEYS[1], 'p:' .. received_at .. ':' .. ends, 'KEEPTTL')
return 1
