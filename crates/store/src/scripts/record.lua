-- Records the hot state of deliveries (what their next attempt needs; the log itself is
-- in PostgreSQL), and optionally marks their event done. Everything here is one tenant's
-- (one slot), so it is atomic.
-- KEYS: event hash, hook failing hash,
--       then per delivery: delivery hash, last-attempt list
-- ARGV: mark_done (0/1), ttl_s, failing_span_ms,
--       then per delivery: meta JSON {id, event_id, hook_id, type, status, next_at, hook,
--       attempt_no, ok}, attempt JSON or ''
-- Returns the ids of hooks whose attempts have all failed for longer than the span.
-- Times are Redis's clock, so that every worker's records compare alike.
-- (Run after clock.lua: `now`.)
local ttl = ARGV[2]
local span = tonumber(ARGV[3])
local n = (#KEYS - 2) / 2
local failing_too_long = {}
for i = 1, n do
  local dkey, akey = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local meta = cjson.decode(ARGV[2 + 2 * i])
  local attempt = ARGV[3 + 2 * i]
  if redis.call('EXISTS', dkey) == 0 then
    redis.call('HSET', dkey, 'id', meta.id, 'event_id', meta.event_id, 'hook_id', meta.hook_id,
      'type', meta.type, 'hook', meta.hook, 'created_at', now, 'attempts', 0)
  end
  -- A delivery seen waiting for its turn may have been handed its turn and delivered
  -- meanwhile by another handler: waiting does not undo that.
  if not (meta.status == 'pending' and redis.call('HGET', dkey, 'status') == 'delivered') then
    redis.call('HSET', dkey, 'status', meta.status, 'updated_at', now, 'next_at', meta.next_at or '')
  end
  -- The same attempt again (a write retried after a lost answer) counts once: only the
  -- last is kept, to tell it.
  if attempt ~= '' and redis.call('LINDEX', akey, -1) ~= attempt then
    redis.call('RPUSH', akey, attempt)
    redis.call('LTRIM', akey, -1, -1)
    redis.call('EXPIRE', akey, ttl)
    local seen = tonumber(redis.call('HGET', dkey, 'attempts') or '0')
    if meta.attempt_no > seen then
      redis.call('HSET', dkey, 'attempts', meta.attempt_no)
    end
    -- A hook's failing streak: cleared by a success, started by the first failure.
    if meta.ok then
      redis.call('HDEL', KEYS[2], meta.hook_id)
    else
      local since = tonumber(redis.call('HGET', KEYS[2], meta.hook_id) or '0')
      if since == 0 then
        redis.call('HSET', KEYS[2], meta.hook_id, now)
      elseif now - since > span then
        table.insert(failing_too_long, meta.hook_id)
      end
    end
  end
  redis.call('EXPIRE', dkey, ttl)
end
if n > 0 then
  redis.call('EXPIRE', KEYS[2], ttl)
end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'state', 'done')
end
return failing_too_long
