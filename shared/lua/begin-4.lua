--[[
  begin: the first record of a transaction, written before any PREPARE is sent.

  KEYS[1] tx hash          {ns:shard}:tx:<txid>
  KEYS[2] event stream     {ns:shard}:ev:<txid>
  KEYS[3] undecided index  {ns:shard}:undecided   (zset txid -> deadline, Redis clock ms)
  KEYS[4] client index     {ns:shard}:client:<id> (zset txid -> creation, Redis clock ms): what
                           one API key may list; unused when ARGV[8] is ""

  ARGV[1] txid
  ARGV[2] participants     JSON array of names
  ARGV[3] timeoutMs        deadline = Redis TIME + timeoutMs
  ARGV[4] onePhase         "1" or "0"
  ARGV[5] idempotencyKey   "" when none
  ARGV[6] maxEvents        stream length bound
  ARGV[7] beginToken       unique per caller: a begin resent after a lost reply (a client's
                           reconnect) finds its own token and is told it began
  ARGV[8] client           the API key id that made the transaction; "" for an operator
  ARGV[9] retentionMs      client index entries older than this are trimmed (their records
                           have expired)
  ARGV[10] series          the first attempt's txid when this is a retry of one request; ""
  ARGV[11] attempt         this attempt's number in the series (1 for the first)
  ARGV[12] previous        the txid of the attempt before this one; "" for the first

  Returns {1, createdAtMs, deadlineAtMs}   begun
          {-1, state, token, createdAtMs, deadlineAtMs}
                                           EXISTS: a record for this txid is already there (a
                                           presumed abort, a duplicate begin, or this caller's
                                           own begin resent); nothing written
]]
--- @include "time-ms"
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HMGET', KEYS[1], 'state', 'beginToken', 'createdAt', 'deadlineAt')
  return {-1, h[1] or '', h[2] or '', h[3] or '', h[4] or ''}
end
local now = timeMs()
local deadline = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1],
  'txid', ARGV[1], 'participants', ARGV[2], 'timeoutMs', ARGV[3], 'onePhase', ARGV[4],
  'idempotencyKey', ARGV[5], 'state', 'preparing', 'createdAt', now, 'deadlineAt', deadline,
  'beginToken', ARGV[7], 'client', ARGV[8], 'series', ARGV[10], 'attempt', ARGV[11], 'previous', ARGV[12])
redis.call('ZADD', KEYS[3], deadline, ARGV[1])
if ARGV[8] ~= '' then
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (now - tonumber(ARGV[9])))
end
local data = {participants = cjson.decode(ARGV[2]), timeoutMs = tonumber(ARGV[3]), onePhase = ARGV[4] == '1'}
if ARGV[12] ~= '' then
  data.attempt = tonumber(ARGV[11])
  data.previous = ARGV[12]
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'type', 'begin', 'at', now, 'data', cjson.encode(data))
return {1, now, deadline}
