-- Registers deliveries in their ordering keys' queues, in the order given (the order
-- their events were accepted). One already registered keeps its place.
-- KEYS: the tenant's hooks, then per delivery: the key's queue, the key's state
-- ARGV: ttl_s, '1' to refuse while the tenant's hooks are missing ('0': a rebuild's own
--       registrations), then per delivery: its member (`<delivery id>:<event id>`)
-- Returns how many were registered, or -1 (none) when refused: Redis came back empty
-- and its rebuild, which lines up the keys' waiting deliveries before it puts the hooks
-- back, has not put them back yet, so a registration now would go ahead of those.
-- (Run after clock.lua and order_common.lua.)
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local n = (#KEYS - 1) / 2
for i = 1, n do
  register(KEYS[2 * i], KEYS[2 * i + 1], ARGV[i + 2], ARGV[1])
end
return n
