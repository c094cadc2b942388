-- Registers deliveries in their ordering keys' queues, in the order given (the order
-- their events were accepted). One already registered keeps its place.
-- KEYS: per delivery: the key's queue, the key's state
-- ARGV: ttl_s, then per delivery: its member (`<delivery id>:<event id>`)
-- (Run after clock.lua and order_common.lua.)
for i = 1, #KEYS / 2 do
  register(KEYS[2 * i - 1], KEYS[2 * i], ARGV[i + 1], ARGV[1])
end
return #KEYS / 2
