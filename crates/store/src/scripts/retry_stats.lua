-- Size and lateness of one shard of the retry set, on Redis's clock (its scores' clock).
-- KEYS: due, claimed   ARGV: windows (ms from now)
-- Returns {due size, claimed size, ms the oldest due entry is late (-1: none due), then
-- per window the due entries due within it (overdue included)}.
-- (Run after clock.lua: `now`.)
local answer = {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), -1}
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] and tonumber(oldest[2]) <= now then
  answer[3] = now - tonumber(oldest[2])
end
for _, w in ipairs(ARGV) do
  table.insert(answer, redis.call('ZCOUNT', KEYS[1], '-inf', now + tonumber(w)))
end
return answer
