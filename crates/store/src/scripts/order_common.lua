-- Shared by the ordering scripts (run after clock.lua). A member is
-- `<delivery id>:<event id>`; its delivery hash and event state are keys of the same tenant
-- (`pre` is `P:{t.T}:`), so in this slot. A member's score is its registration time in
-- ms × 1000, kept above the last score given on its key (see `register`).

-- How long a registered delivery whose event never reached a worker holds its key: its
-- ingest died between registering and publishing, or the publish was refused and the
-- registration could not be taken back. Longer than any backlog should last.
local GHOST_MS = 600000

-- Places `m` at the end of key `q` (state `s`) unless it is there already; both keys
-- expire `ttl` seconds from now.
local function register(q, s, m, ttl)
  if not redis.call('ZSCORE', q, m) then
    local last = tonumber(redis.call('HGET', s, 'seq') or '0')
    -- Ordered by registration even if Redis's clock steps back. Written with %d: Lua
    -- would print a number this large in exponent form and lose digits.
    local score = string.format('%d', math.max(now * 1000, last + 1))
    redis.call('HSET', s, 'seq', score)
    redis.call('ZADD', q, score, m)
  end
  redis.call('EXPIRE', q, ttl)
  redis.call('EXPIRE', s, ttl)
end

-- The event id of a member `<dlv>:<evt>` as keys hold it: one ending in `:dlvs` has its
-- `:` written `%3A` (keys.rs, key_part).
local function evt_key_part(m)
  local id = string.match(m, ':(.*)$')
  if string.sub(id, -5) == ':dlvs' then
    id = string.gsub(id, ':', '%%3A')
  end
  return id
end

-- The delivery hash of a member `<dlv>:<evt>`.
local function dlv_key(pre, m)
  return pre .. 'dlv:' .. string.match(m, '^([^:]+)')
end

-- Registered more than GHOST_MS ago, and neither its delivery nor its event exists.
local function ghost(pre, m, score)
  if tonumber(score) / 1000 > now - GHOST_MS then
    return false
  end
  return redis.call('EXISTS', dlv_key(pre, m)) == 0
    and redis.call('EXISTS', pre .. 'evs:' .. evt_key_part(m)) == 0
end
-- `wanted`: a handler was told another was attempting it (see order_turn.lua), so its
-- hook wants it whatever its event's state says. Second: the status Redis holds of it
-- (nil: no hot state).
local function ended(pre, m, wanted)
  local st = redis.call('HGET', dlv_key(pre, m), 'status')
  if st == 'delivered' or st == 'failed' or st == 'cancelled' then
    return true, st
  end
  -- Never attempted although its event is done: the hook stopped wanting it. (Or
  -- delivered with no hot state kept, `Store::record_delivered`: ended too.)
  return not st and not wanted and redis.call('GET', pre .. 'evs:' .. evt_key_part(m)) == 'done', st
end
-- The key's oldest member, past (and rid of) any that ended or never came; stops at `me`.
local function open_head(q, pre, me)
  local first = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
  while first[1] and first[1] ~= me and (ended(pre, first[1]) or ghost(pre, first[1], first[2])) do
    redis.call('ZREM', q, first[1])
    first = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
  end
  return first[1]
end
