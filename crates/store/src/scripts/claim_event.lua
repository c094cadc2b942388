-- Claims an event for processing, storing it on first sight. Leases are Redis's clock,
-- so that workers whose clocks differ agree on whether a holder is gone.
-- The payload is not stored here: most events are delivered at once and never read it
-- again. What waits gets it stored with its record (record.lua), a duplicate told
-- `busy` stores it for its resume task (event_keep_payload.lua), and PostgreSQL has it
-- once the event's outcomes are logged.
-- KEYS: tenant record, event hash, hooks version
-- ARGV: received_at (the caller's clock: a stamp shown to receivers, never compared
--       here), lease_ms, ttl_s, type, occurred_at, traceparent ('' when none)
-- Returns {state, hooks_version}: unknown_tenant | done | busy | takeover | new
-- (Run after clock.lua: `now`.)
-- One read for both: the tenant record is small.
local got = redis.call('MGET', KEYS[1], KEYS[3])
if not got[1] then
  return {'unknown_tenant', '0'}
end
local ver = got[2] or '0'
local state = redis.call('HGET', KEYS[2], 'state')
if state == 'done' then
  return {'done', ver}
end
if state == 'processing' then
  local lease = tonumber(redis.call('HGET', KEYS[2], 'lease') or '0')
  -- A live lease means a live holder (it renews the lease while it works), whether
  -- this is a producer's duplicate or RabbitMQ's redelivery after a cut connection.
  -- Only an expired lease means the holder is gone: take over.
  if lease > now then
    return {'busy', ver}
  end
  redis.call('HSET', KEYS[2], 'lease', now + tonumber(ARGV[2]))
  return {'takeover', ver}
end
redis.call('HSET', KEYS[2], 'state', 'processing', 'lease', now + tonumber(ARGV[2]),
  'type', ARGV[4], 'received_at', ARGV[1], 'occurred_at', ARGV[5],
  'traceparent', ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {'new', ver}
