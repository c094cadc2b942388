-- Stores the payload of an event another handler holds, for the resume task of a
-- duplicate that found it `busy`: should the holder die, that task takes over from
-- what is stored. An event done (or gone) meanwhile needs it no more.
-- KEYS: event hash
-- ARGV: data
if redis.call('HGET', KEYS[1], 'state') == 'processing' then
  redis.call('HSET', KEYS[1], 'data', ARGV[1])
end
return 1
