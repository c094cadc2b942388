-- Records the hot state of deliveries (what their next attempt and ordering read; the
-- log itself is in PostgreSQL), and optionally marks their event done. (An
-- event whose every delivery ended delivered at once keeps no hot state: its record is
-- one plain command, `Store::record_delivered`.)
-- Everything here is one tenant's (one slot), so it is atomic. Every step is idempotent,
-- so a write retried after a lost answer changes nothing the first did not.
-- KEYS: event state, event kept, hook failing hash, then per delivery: delivery hash
-- ARGV: mark (0: none, 1: done), ttl_s, failing_span_ms,
--       the event to keep for what waits: type, data ('' when none waits), received_at,
--       occurred_at, traceparent;
--       ended_ttl_s (how long an ended delivery's hot state stays);
--       then per delivery: hook id, status, the body's hook object,
--       attempt number (0: none), that attempt's outcome (0: failed, 1: delivered and
--       its hook's failing streak to end, 2: delivered, the streak ended lately),
--       its hot state once delivered (0: kept, 1: for a while (not ordered), 2: none,
--       delivered at its event's first processing)
-- Returns the ids of hooks whose attempts have all failed for longer than the span.
-- Times are Redis's clock, read only when a failure needs it.
local ttl = ARGV[2]
local ended_ttl = math.min(tonumber(ttl), tonumber(ARGV[9]))
local ended = false
local span = tonumber(ARGV[3])
local failing_too_long = {}
local failed = false
local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end
local failing = KEYS[3]
for i = 1, #KEYS - 3 do
  local dkey, a = KEYS[3 + i], 9 + 6 * (i - 1)
  local hook_id, status, hook = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local attempt_no = tonumber(ARGV[a + 4])
  local outcome, hot = ARGV[a + 5], ARGV[a + 6]
  if hot ~= '2' then
    local seen = redis.call('HMGET', dkey, 'status', 'attempts')
    -- A delivery seen waiting for its turn may have been handed its turn and delivered
    -- meanwhile by another handler: waiting does not undo that. The attempt count never
    -- goes back.
    if status == 'pending' and seen[1] == 'delivered' then
      status = 'delivered'
    end
    redis.call('HSET', dkey, 'status', status, 'hook', hook,
      'attempts', math.max(tonumber(seen[2] or '0'), attempt_no))
    -- Delivered and not ordered, its state only tells a stale record of it apart (a
    -- copy of its task deferred meanwhile would otherwise write it pending): for a while.
    if status == 'delivered' and hot ~= '0' then
      redis.call('EXPIRE', dkey, ended_ttl)
      ended = true
    else
      redis.call('EXPIRE', dkey, ttl)
    end
  end
  -- A hook's failing streak: cleared by a success, started by the first failure.
  if attempt_no > 0 and outcome ~= '2' then
    if outcome == '1' then
      redis.call('HDEL', failing, hook_id)
    else
      failed = true
      local since = tonumber(redis.call('HGET', failing, hook_id) or '0')
      if since == 0 then
        redis.call('HSET', failing, hook_id, clock())
      elseif clock() - since > span then
        table.insert(failing_too_long, hook_id)
      end
    end
  end
end
if failed then
  redis.call('EXPIRE', failing, ttl)
end
-- The mark tells a duplicate apart for the retention. The event is kept with it when
-- something waits to read it (the claim keeps none).
if ARGV[1] ~= '0' then
  redis.call('SET', KEYS[1], 'done', 'EX', ttl)
  if ARGV[5] ~= '' then
    redis.call('HSET', KEYS[2], 'type', ARGV[4], 'data', ARGV[5], 'received_at', ARGV[6],
      'occurred_at', ARGV[7], 'traceparent', ARGV[8])
    redis.call('EXPIRE', KEYS[2], ttl)
  end
elseif ended then
  -- A later outcome: what still waits for the event reads it from the log once it is
  -- gone, so it need not stay for the retention.
  redis.call('EXPIRE', KEYS[2], ended_ttl, 'LT')
end
return failing_too_long
