-- A tenant's intake limit, put in front of rate_limit.lua: the tenant's own rate
-- (set through the admin API) replaces the deployment's default, and a count over the
-- burst is refused outright, since it could never go.
-- KEYS: the tenant's intake rate hash (as rate_limit.lua's), the tenant's own limit hash
-- (per_second, burst)
-- ARGV: as rate_limit.lua's (the default's interval_ms and burst, then the longest
-- wait, then the count)
-- Returns {0, 0, burst} for a count over the burst, else rate_limit.lua's answer.
local own = redis.call('HMGET', KEYS[2], 'per_second', 'burst')
if own[1] and own[2] then
  ARGV[1] = tostring(1000 / tonumber(own[1]))
  ARGV[2] = own[2]
end
if tonumber(ARGV[4]) > tonumber(ARGV[2]) then
  return {0, 0, tonumber(ARGV[2])}
end
