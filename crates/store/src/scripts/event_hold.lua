-- Whether an event being processed is held, and takes it over when its lease has run
-- out (its holder died or let it go): one claimer takes it, however many try at once.
-- The lease's end is the last part of the state (event_state.lua). A state of an older
-- version (`p:<received_at>`) has its lease in a key of its own, whose holder keeps it
-- until that key expires.
-- KEYS: event state, an older version's lease
-- ARGV: lease_ms for the one that takes it over (0: only tell)
-- Returns -1 when the event is not being processed (done, or gone), else how many ms
-- its holder's lease has left, 0 when it has none (and it is now this caller's when
-- ARGV[1] is not 0).
local received_at, ends = processing(redis.call('GET', KEYS[1]))
if not received_at then
  return -1
end
local left = redis.call('PTTL', KEYS[2])
if ends ~= '' then
  left = math.max(left, tonumber(ends) - now)
end
if left > 0 then
  return left
end
if ARGV[1] ~= '0' then
  redis.call('SET', KEYS[1], leased(received_at, now + tonumber(ARGV[1])), 'KEEPTTL')
end
return 0
