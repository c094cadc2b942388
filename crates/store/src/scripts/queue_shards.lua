-- Raises the recorded count of event queue shards to ARGV[1] if it is lower.
-- KEYS: the count's key
-- Returns the count recorded.
local seen = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > seen then
  redis.call('SET', KEYS[1], ARGV[1])
  return tonumber(ARGV[1])
end
return seen
