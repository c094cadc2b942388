-- Replaces a hook's stored JSON only if it is still what the caller read (compare and
-- set), so re-sealing under a new server key never loses a concurrent change. The
-- hooks version is not bumped: the hook itself has not changed.
-- KEYS: hooks hash   ARGV: id, json read, json re-sealed
-- Returns: 1 when replaced, 0 when the hook changed or went meanwhile
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
