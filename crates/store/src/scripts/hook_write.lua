-- Creates, replaces or deletes a hook and bumps the tenant's hooks version in one step.
-- KEYS: hooks hash, hooks version   ARGV: op (create|update|put|delete), id, json, max_hooks
-- (put: the cache taking what PostgreSQL stored, whether or not it was there)
-- Returns: ok | exists | missing | limit
local op, id = ARGV[1], ARGV[2]
local present = redis.call('HEXISTS', KEYS[1], id) == 1
if op == 'create' then
  if present then return 'exists' end
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 'limit' end
  redis.call('HSET', KEYS[1], id, ARGV[3])
elseif op == 'update' then
  if not present then return 'missing' end
  redis.call('HSET', KEYS[1], id, ARGV[3])
elseif op == 'put' then
  redis.call('HSET', KEYS[1], id, ARGV[3])
else
  if not present then return 'missing' end
  redis.call('HDEL', KEYS[1], id)
end
redis.call('INCR', KEYS[2])
return 'ok'
