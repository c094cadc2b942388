-- Shared by the ordering scripts. A member is `<delivery id>:<event id>`; its delivery
-- and event hashes are keys of the same tenant (`pre` is `P:{t.T}:`), so in this slot.
local function ended(pre, m)
  local st = redis.call('HGET', pre .. 'dlv:' .. string.match(m, '^([^:]+)'), 'status')
  if st == 'delivered' or st == 'failed' or st == 'cancelled' then
    return true
  end
  -- Never attempted although its event is done: the hook stopped wanting it.
  return not st and redis.call('HGET', pre .. 'evt:' .. string.match(m, ':(.*)$'), 'state') == 'done'
end
-- The key's oldest member, past (and rid of) any that ended; stops at `me`.
local function open_head(q, pre, me)
  local head = redis.call('ZRANGE', q, 0, 0)[1]
  while head and head ~= me and ended(pre, head) do
    redis.call('ZREM', q, head)
    head = redis.call('ZRANGE', q, 0, 0)[1]
  end
  return head
end
