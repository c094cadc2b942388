-- A tenant's intake limit and its fair lane, in one call. The intake limit (GCRA over
-- events, the tenant's own rate when an operator set one) accepts or refuses the whole
-- request; an accepted request then asks the fair lane (GCRA over deliveries) whether it
-- fits in the tenant's share of the workers, all of it or none.
-- An ingest may ask for more than the request (a lease it spends locally, for a busy
-- tenant): up to `want` events, never more than the tenant's rate earns over the
-- `horizon` nor a quarter of its burst, and as much of that as there is room for (at
-- least the request's own). The lane's lease is sized the same way, at the request's
-- deliveries per event (or, asking the lane alone, as the caller wants).
-- KEYS: the tenant's intake rate hash (tat), its own limit hash (per_second, burst), its
-- fair lane hash (tat)
-- ARGV: the default intake interval_ms and burst, the count of events (0: the lane
-- only), the lane's interval_ms and burst, the request's weight (its deliveries),
-- want (events, at least count), horizon_ms, lane_want (deliveries)
-- Returns {0, events taken, lane deliveries taken (0: beyond the lane), ms until the
-- lane has room for a lease (0 unless refused there)}; {wait_ms} refused for
-- now; {-1, burst} refused for good (more events than the burst).
-- (Run after clock.lua: `now`.)
-- The GCRA, taking as much as fits of `size` and at least `need`: returns what it took
-- (0: refused, nothing taken) and, refused, the ms until `need` and until `size` fit.
local function take(key, interval, burst, need, size)
  local tat = math.max(tonumber(redis.call('HGET', key, 'tat') or '0'), now)
  local room = math.floor((now - tat) / interval + burst + 1e-9)
  if room < need then
    local function wait(n)
      return math.max(1, math.ceil(tat - (burst - n) * interval - now))
    end
    return 0, wait(need), wait(size)
  end
  local n = math.min(size, room)
  redis.call('HSET', key, 'tat', tat + n * interval)
  redis.call('PEXPIRE', key, math.ceil(tat + n * interval - now + 60000))
  return n, 0, 0
end

-- The most a lease may take: `want`, within what the rate earns over the horizon and a
-- quarter of the burst, and never less than the request's own `need`.
local function lease(need, want, interval, burst)
  local cap = math.min(want, math.floor(tonumber(ARGV[8]) / interval), math.floor(burst / 4))
  return math.max(need, cap)
end

local count = tonumber(ARGV[3])
local got = 0
if count > 0 then
  local interval = tonumber(ARGV[1])
  local burst = tonumber(ARGV[2])
  local own = redis.call('HMGET', KEYS[2], 'per_second', 'burst')
  if own[1] and own[2] then
    interval = 1000 / tonumber(own[1])
    burst = tonumber(own[2])
  end
  if count > burst then
    return {-1, burst}
  end
  local wait
  got, wait = take(KEYS[1], interval, burst, count,
    lease(count, tonumber(ARGV[7]), interval, burst))
  if got == 0 then
    return {wait}
  end
end
local lane_interval = tonumber(ARGV[4])
local lane_burst = tonumber(ARGV[5])
local weight = tonumber(ARGV[6])
-- A request heavier than the lane's burst could never fit: it goes beyond, and takes
-- nothing from the lane.
if weight > lane_burst then
  return {0, got, 0, 0}
end
-- The lane's lease: what the caller wants, no more than the events taken would make.
local lane_want = tonumber(ARGV[9])
if count > 0 then
  lane_want = math.min(lane_want, math.floor(weight / count * got))
end
local size = lease(weight, lane_want, lane_interval, lane_burst)
-- Refused, the wait is for a whole lease: a caller that sends its requests beyond the
-- lane until then finds one, rather than asking again for each request.
local lane, _, lane_wait = take(KEYS[3], lane_interval, lane_burst, weight, size)
return {0, got, lane, lane_wait}
