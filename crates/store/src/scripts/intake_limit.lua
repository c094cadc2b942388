-- A tenant's intake limit and its fair lane, in one call. The intake limit (GCRA over
-- events, the tenant's own rate when an operator set one) accepts or refuses the whole
-- request; an accepted request then asks the fair lane (GCRA over deliveries) whether it
-- fits in the tenant's share of the workers, all of it or none.
-- KEYS: the tenant's intake rate hash (tat), its own limit hash (per_second, burst), its
-- fair lane hash (tat)
-- ARGV: the default intake interval_ms and burst, the count of events, the lane's
-- interval_ms and burst, the request's weight (its deliveries)
-- Returns {0, 1} accepted in the lane, {0, 0} accepted beyond it, {wait_ms} refused
-- for now, {0, 0, burst} refused for good (more events than the burst).
-- (Run after clock.lua: `now`.)
local function take(key, interval, burst, count)
  local tat = math.max(tonumber(redis.call('HGET', key, 'tat') or '0'), now)
  local allowed_at = tat - (burst - count) * interval
  if allowed_at > now then
    return math.ceil(allowed_at - now)
  end
  redis.call('HSET', key, 'tat', tat + count * interval)
  redis.call('PEXPIRE', key, math.ceil(tat + count * interval - now + 60000))
  return 0
end

local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local own = redis.call('HMGET', KEYS[2], 'per_second', 'burst')
if own[1] and own[2] then
  interval = 1000 / tonumber(own[1])
  burst = tonumber(own[2])
end
local count = tonumber(ARGV[3])
if count > burst then
  return {0, 0, burst}
end
local wait = take(KEYS[1], interval, burst, count)
if wait > 0 then
  return {wait}
end
local lane_burst = tonumber(ARGV[5])
local weight = tonumber(ARGV[6])
-- A request heavier than the lane's burst could never fit: it goes beyond, and takes
-- nothing from the lane.
if weight > lane_burst or take(KEYS[3], tonumber(ARGV[4]), lane_burst, weight) > 0 then
  return {0, 0}
end
return {0, 1}
