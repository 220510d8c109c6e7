--[[
  due: members of an index whose score (a time on the Redis clock) has passed. Using Redis's
  clock gives every coordinator process the same notion of "now" across restarts.

  KEYS[1] index            undecided or unacked zset

  ARGV[1] limit            at most this many members

  Returns {nowMs, member1, member2, ...}
]]
--- @include "time-ms"
local now = timeMs()
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
table.insert(members, 1, now)
return members
