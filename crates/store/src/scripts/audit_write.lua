-- Adds an audit entry to one log, trims entries older than the retention, and keeps an
-- idle log expiring after it. No clock here: an entry's id is its time on the caller's
-- clock (made before the action, audit.rs), and the bound is measured from that same time.
-- KEYS: the log (sorted set, every member scoring 0)
-- ARGV: member (`<id>\t<json>`), exclusive lex bound of the oldest kept id, ttl (s)
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('ZREMRANGEBYLEX', KEYS[1], '-', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
