-- Ends a handler's hold on a delivery's key: `retry` (the delivery keeps the key, the
-- handler lets go: a retry or a deferral follows), `done` (the next delivery's turn),
-- `block` (the key waits until the delivery is resent and delivered, or skipped).
-- KEYS: the key's queue, the key's state, the delivery's hash
-- ARGV: member, how, handler token, the tenant's key prefix (`P:{t.T}:`)
-- Returns the member whose turn it is now, or ''.
-- (Run after clock.lua and order_common.lua.)
local q, s = KEYS[1], KEYS[2]
local me, how = ARGV[1], ARGV[2]
if redis.call('HGET', s, 'cur') ~= me then
  if how == 'done' then
    redis.call('ZREM', q, me)
  end
  return ''
end
if how == 'retry' then
  if redis.call('HGET', s, 'owner') == ARGV[3] then
    redis.call('HDEL', s, 'owner', 'lease')
  end
  return ''
end
redis.call('HDEL', s, 'owner', 'lease')
if how == 'block' then
  redis.call('HSET', s, 'blocked', '1')
  redis.call('HSET', KEYS[3], 'blocking', '1')
  return ''
end
redis.call('ZREM', q, me)
redis.call('HDEL', s, 'cur', 'blocked', 'wanted')
redis.call('HDEL', KEYS[3], 'blocking')
-- The next one whose turn it is, past any that ended already (delivered by a resend,
-- say): handing the turn to one of those would stop the key.
return open_head(q, ARGV[4], nil) or ''
