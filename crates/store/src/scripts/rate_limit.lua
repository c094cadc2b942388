-- A hook's rate limit, shared by every worker (GCRA). Conformant: the request goes now
-- and the theoretical arrival time moves on by one interval. Not yet: it is told how
-- long until it would conform, and a place in line one interval after the last one
-- told so, so that deferred requests come back spread out, not all at once.
-- KEYS: the hook's rate hash (tat, line)
-- ARGV: interval_ms, burst, longest wait the caller sleeps through (ms), and how many
-- requests go at once (default 1: all of them now, or none)
-- Returns {0} to go now, {wait_ms} to sleep and ask again, or {wait_ms, line_ms} to be
-- deferred. Times are Redis's own clock.
-- (Run after clock.lua: `now`.)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local count = tonumber(ARGV[4] or '1')
local tat = math.max(tonumber(redis.call('HGET', KEYS[1], 'tat') or '0'), now)
local allowed_at = tat - (burst - count) * interval
if allowed_at <= now then
  redis.call('HSET', KEYS[1], 'tat', tat + count * interval)
  redis.call('PEXPIRE', KEYS[1], math.ceil(tat + count * interval - now + 60000))
  return {0}
end
if allowed_at - now <= tonumber(ARGV[3]) then
  return {math.ceil(allowed_at - now)}
end
local line = math.max(tonumber(redis.call('HGET', KEYS[1], 'line') or '0'), allowed_at)
redis.call('HSET', KEYS[1], 'line', line + interval)
redis.call('PEXPIRE', KEYS[1], math.ceil(line + interval - now + 60000))
return {math.ceil(allowed_at - now), math.ceil(line - now)}
