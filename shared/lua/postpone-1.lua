--[[
  postpone: moves a member of an index to a later time on the Redis clock, so that recovery
  does not retry, on every pass, a transaction it cannot finish yet.

  KEYS[1] index            undecided or unacked zset

  ARGV[1] member           txid
  ARGV[2] delayMs          new score = Redis TIME + delayMs

  Returns 1 when moved, 0 when the member is not in the index (nothing written)
]]
--- @include "time-ms"
local now = timeMs()
return redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])
