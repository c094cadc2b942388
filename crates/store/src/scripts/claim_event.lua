-- Claims an event for processing, storing it on first sight. Leases are Redis's clock,
-- so that workers whose clocks differ agree on whether a holder is gone.
-- KEYS: tenant record, event hash, hooks version
-- ARGV: received_at (the caller's clock: a stamp shown to receivers, never compared
--       here), lease_ms, ttl_s, type, data, occurred_at, traceparent ('' when none)
-- Returns {state, hooks_version}: unknown_tenant | done | busy | takeover | new
-- (Run after clock.lua: `now`.)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'unknown_tenant', '0'}
end
local ver = redis.call('GET', KEYS[3]) or '0'
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
  'type', ARGV[4], 'data', ARGV[5], 'received_at', ARGV[1], 'occurred_at', ARGV[6])
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[2], 'traceparent', ARGV[7])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {'new', ver}
