-- Whether a delivery may be attempted now: it must hold its key (be its oldest
-- delivery not yet ended), and no other handler may be attempting it.
-- KEYS: the key's queue, the key's state
-- ARGV: member, handler token, lease_ms, ttl_s, the tenant's key prefix (`P:{t.T}:`)
-- Returns {go} | {wait} | {wait, head} | {unsure, cur} | {busy, ms} | {blocked} | {ended}:
-- `head` is the delivery whose turn it is on a key nobody holds (the caller sends for
-- it); `cur`: the key's holder, which nobody attempts and of which Redis holds nothing
-- (its end may be only in the log: the caller asks it); `ms`: how long the other
-- handler's hold lasts yet; `ended`: this delivery already ended (a late look at it),
-- nothing to do.
-- (Run after clock.lua and order_common.lua.)
local q, s = KEYS[1], KEYS[2]
local me, token, pre = ARGV[1], ARGV[2], ARGV[5]
if not redis.call('ZSCORE', q, me) then
  -- Ended and gone from the queue already: never registered again behind the others.
  if ended(pre, me) then
    return {'ended'}
  end
  -- Not registered when its event was accepted (published straight to the exchange).
  register(q, s, me, ARGV[4])
end
local cur = redis.call('HGET', s, 'cur')
local lease = tonumber(redis.call('HGET', s, 'lease') or '0')
local held = lease > now
if cur and cur ~= me then
  if redis.call('HGET', s, 'blocked') == '1' then
    return {'blocked'}
  end
  -- Being attempted, or not ended; else its worker recorded the end, then died before
  -- letting the key go.
  if held then
    return {'wait'}
  end
  local done, st = ended(pre, cur, redis.call('HGET', s, 'wanted') == cur)
  if not done then
    -- No hot state either: a Redis back without its last writes may have lost its end.
    if not st then
      return {'unsure', cur}
    end
    return {'wait'}
  end
  redis.call('ZREM', q, cur)
  redis.call('HDEL', s, 'cur', 'owner', 'lease', 'wanted')
  cur = false
end
if not cur then
  local head = open_head(q, pre, me)
  if head ~= me then
    return {'wait', head}
  end
  redis.call('HSET', s, 'cur', me)
end
local owner = redis.call('HGET', s, 'owner')
if owner and owner ~= token and held then
  -- The holder may have died attempting it, before anything of it was written (its
  -- event done by a take-over meanwhile): the key waits for it until it ends.
  redis.call('HSET', s, 'wanted', me)
  return {'busy', string.format('%d', lease - now)}
end
redis.call('HSET', s, 'owner', token, 'lease', now + tonumber(ARGV[3]))
return {'go'}
