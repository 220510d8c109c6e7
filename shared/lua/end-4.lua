--[[
  end: every participant has acknowledged the decision; the transaction leaves the active
  indexes and its records expire after the retention period.

  KEYS[1] tx hash          {ns:shard}:tx:<txid>
  KEYS[2] event stream     {ns:shard}:ev:<txid>
  KEYS[3] unacked index    {ns:shard}:unacked
  KEYS[4] finished index   {ns:shard}:finished    (zset txid -> creation time, Redis clock ms:
                           the order listings page in, coordinator/history.ts; the archiver
                           reads the end time from the record)

  ARGV[1] txid
  ARGV[2] acked            JSON array of participant names acknowledged in this call
  ARGV[3] retentionSeconds
  ARGV[4] maxEvents        stream length bound

  Returns {1, state}    ended now ("committed" | "aborted")
          {0, state}    had already ended
          {-1, ""}      NOT-DECIDED: no decision is stored; nothing written
]]
--- @include "time-ms"
local decision = redis.call('HGET', KEYS[1], 'decision')
if not decision then
  return {-1, ''}
end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'committed' or state == 'aborted' then
  return {0, state}
end
local now = timeMs()
local final = 'committed'
if decision == 'abort' then final = 'aborted' end
for _, name in ipairs(cjson.decode(ARGV[2])) do
  redis.call('HSET', KEYS[1], 'ack:' .. name, now)
end
redis.call('HSET', KEYS[1], 'state', final, 'endedAt', now)
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], tonumber(redis.call('HGET', KEYS[1], 'createdAt') or now), ARGV[1])
-- Trimming here keeps the finished index proportional to the retention window, not to history.
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[3]) * 1000)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'type', 'end', 'at', now,
  'data', cjson.encode({state = final}))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {1, final}
