--[[
  ack: phase-2 acknowledgements from some participants, and when to try the others again.

  KEYS[1] tx hash          {ns:shard}:tx:<txid>
  KEYS[2] event stream     {ns:shard}:ev:<txid>
  KEYS[3] unacked index    {ns:shard}:unacked

  ARGV[1] txid
  ARGV[2] acked            JSON array of participant names that acknowledged ("[]" for none)
  ARGV[3] nextRetryDelayMs the transaction becomes due for recovery after this long
  ARGV[4] maxEvents        stream length bound

  Returns {1}    recorded
          {-1}   NOT-DECIDED: no decision is stored; nothing written
]]
--- @include "time-ms"
if not redis.call('HGET', KEYS[1], 'decision') then
  return {-1}
end
local now = timeMs()
local acked = cjson.decode(ARGV[2])
for _, name in ipairs(acked) do
  redis.call('HSET', KEYS[1], 'ack:' .. name, now)
end
if #acked > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'type', 'ack', 'at', now, 'data', ARGV[2])
end
redis.call('ZADD', KEYS[3], 'XX', now + tonumber(ARGV[3]), ARGV[1])
return {1}
