-- Records the outcome of deliveries, and optionally marks their event done. Everything
-- here is one tenant's (one slot), so it is atomic.
-- KEYS: event hash, log sorted set, event's delivery set, hook failing hash,
--       then per delivery: delivery hash, attempts list
-- ARGV: mark_done (0/1), ttl_s, log retention ms, failing_span_ms,
--       then per delivery: meta JSON {id, event_id, hook_id, type, status, next_at, hook,
--       attempt_no, ok}, attempt JSON or ''
-- Returns the ids of hooks whose attempts have all failed for longer than the span.
-- Times are Redis's clock, so that every worker's records compare alike.
-- (Run after clock.lua: `now`.)
local ttl = ARGV[2]
local cutoff = now - tonumber(ARGV[3])
local span = tonumber(ARGV[4])
local n = (#KEYS - 4) / 2
local failing_too_long = {}
for i = 1, n do
  local dkey, akey = KEYS[3 + 2 * i], KEYS[4 + 2 * i]
  local meta = cjson.decode(ARGV[3 + 2 * i])
  local attempt = ARGV[4 + 2 * i]
  if redis.call('EXISTS', dkey) == 0 then
    redis.call('HSET', dkey, 'id', meta.id, 'event_id', meta.event_id, 'hook_id', meta.hook_id,
      'type', meta.type, 'hook', meta.hook, 'created_at', now, 'attempts', 0)
    redis.call('ZADD', KEYS[2], now, meta.id)
    redis.call('SADD', KEYS[3], meta.id)
  end
  -- A delivery seen waiting for its turn may have been handed its turn and delivered
  -- meanwhile by another handler: waiting does not undo that.
  if not (meta.status == 'pending' and redis.call('HGET', dkey, 'status') == 'delivered') then
    redis.call('HSET', dkey, 'status', meta.status, 'updated_at', now, 'next_at', meta.next_at or '')
  end
  -- The same attempt again (a write retried after a lost answer) is recorded once.
  if attempt ~= '' and redis.call('LINDEX', akey, -1) ~= attempt then
    redis.call('RPUSH', akey, attempt)
    redis.call('LTRIM', akey, -50, -1)
    redis.call('EXPIRE', akey, ttl)
    local seen = tonumber(redis.call('HGET', dkey, 'attempts') or '0')
    if meta.attempt_no > seen then
      redis.call('HSET', dkey, 'attempts', meta.attempt_no)
    end
    -- A hook's failing streak: cleared by a success, started by the first failure.
    if meta.ok then
      redis.call('HDEL', KEYS[4], meta.hook_id)
    else
      local since = tonumber(redis.call('HGET', KEYS[4], meta.hook_id) or '0')
      if since == 0 then
        redis.call('HSET', KEYS[4], meta.hook_id, now)
      elseif now - since > span then
        table.insert(failing_too_long, meta.hook_id)
      end
    end
  end
  redis.call('EXPIRE', dkey, ttl)
end
if n > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
  redis.call('EXPIRE', KEYS[4], ttl)
end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'state', 'done')
end
return failing_too_long
