-- Puts deliveries in their slow hooks' backlogs, a group of entries per hook. Everything
-- here is one tenant's (one slot).
-- KEYS: per group: the hook's backlog list, its backlog state hash
-- ARGV: per group: '' (push only into an armed backlog) or the hook's disarm count the
--       caller saw before it scheduled a drain (arm it too), the number of entries n,
--       then the n entries
-- Returns the groups refused (1-based positions), of which nothing was written: a backlog
-- that is not armed and may not be armed (the caller schedules a drain first, see
-- backlog.rs).
local refused = {}
local a = 1
for j = 1, #KEYS / 2 do
  local list, state = KEYS[2 * j - 1], KEYS[2 * j]
  local may_arm, n = ARGV[a], tonumber(ARGV[a + 1])
  local armed = redis.call('HGET', state, 'armed') == '1'
  if not armed and may_arm ~= '' and may_arm == (redis.call('HGET', state, 'disarms') or '0') then
    redis.call('HSET', state, 'armed', '1')
    redis.call('PERSIST', state)
    armed = true
  end
  if armed then
    -- In slices: unpack is bounded by Lua's stack.
    local first, last = a + 2, a + 1 + n
    while first <= last do
      local upto = math.min(first + 499, last)
      redis.call('RPUSH', list, unpack(ARGV, first, upto))
      first = upto + 1
    end
  else
    table.insert(refused, j)
  end
  a = a + 2 + n
end
return refused
