-- How long an event's lease has left on Redis's clock, the clock leases are set by.
-- KEYS: event hash
-- Returns ms left (0: none, or run out).
-- (Run after clock.lua: `now`.)
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease') or '0')
return math.max(lease - now, 0)
