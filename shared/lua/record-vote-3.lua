--[[
  record-vote: a participant's journal entry for the vote it gives, written before the vote is
  sent. A repeated PREPARE finds it and returns the same vote.

  KEYS[1] tx hash          {ns:shard}:tx:<txid>
  KEYS[2] event stream     {ns:shard}:ev:<txid>
  KEYS[3] undecided index  {ns:shard}:undecided   (zset txid -> time of the YES vote)

  ARGV[1] txid
  ARGV[2] participant
  ARGV[3] vote             "yes" | "no" | "read-only"
  ARGV[4] reason           "" for none
  ARGV[5] retentionSeconds lifetime of a record that needs no decision (no, read-only)
  ARGV[6] maxEvents        stream length bound
  ARGV[7] participants     JSON array of every participant of the transaction ("" if unknown):
                           whom to ask while the coordinator is unreachable

  Returns {1, vote, ""}          recorded
          {0, vote, decision}    a vote was already recorded; it is returned unchanged
          {-2, "", decision}     DECIDED: a decision is already journaled (an ABORT overtook this
                                 PREPARE); nothing written, the caller must not vote YES
]]
--- @include "time-ms"
local field = 'vote:' .. ARGV[2]
local decision = redis.call('HGET', KEYS[1], 'decision') or ''
local existing = redis.call('HGET', KEYS[1], field)
if existing then
  return {0, existing, decision}
end
if decision ~= '' then
  return {-2, '', decision}
end
local now = timeMs()
redis.call('HSET', KEYS[1], 'txid', ARGV[1], field, ARGV[3], 'createdAt', now)
if ARGV[7] ~= '' then
  redis.call('HSETNX', KEYS[1], 'participants', ARGV[7])
end
if ARGV[3] == 'yes' then
  redis.call('HSET', KEYS[1], 'state', 'prepared')
  redis.call('ZADD', KEYS[3], now, ARGV[1])
else
  local state = 'aborted'
  if ARGV[3] == 'read-only' then state = 'read-only' end
  redis.call('HSET', KEYS[1], 'state', state, 'endedAt', now)
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'type', 'vote', 'at', now,
  'data', cjson.encode({participant = ARGV[2], vote = ARGV[3], reason = ARGV[4]}))
return {1, ARGV[3], ''}
