-- Redis's own clock in ms, so that workers whose clocks differ still agree.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
