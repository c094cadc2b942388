-- Keeps an event another handler holds, for the resume task of a duplicate that found
-- it `busy`: should the holder die, that task takes over from what is kept, with the
-- receive time the holder's claim stored (event_state.lua). An event done (or gone)
-- meanwhile needs it no more.
-- KEYS: event state, event kept
-- ARGV: type, data, occurred_at ('' when none), traceparent ('' when none), ttl_s
local received_at = processing(redis.call('GET', KEYS[1]))
if received_at then
  redis.call('HSET', KEYS[2], 'type', ARGV[1], 'data', ARGV[2],
    'received_at', received_at, 'occurred_at', ARGV[3], 'traceparent', ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
return 1
