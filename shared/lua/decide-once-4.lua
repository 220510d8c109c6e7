--[[
  decide-once: the write-once decision register. Whoever writes first wins (the engine,
  recovery, an operator, a participant's inquiry after the deadline); every later caller gets
  the stored value back and must obey it. This one rule makes duplicate, stale and concurrent
  coordinators safe.

  KEYS[1] tx hash          {ns:shard}:tx:<txid>
  KEYS[2] event stream     {ns:shard}:ev:<txid>
  KEYS[3] undecided index  {ns:shard}:undecided
  KEYS[4] unacked index    {ns:shard}:unacked     (zset txid -> next phase-2 attempt, Redis clock ms)

  ARGV[1] txid
  ARGV[2] decision         "commit" | "abort"
  ARGV[3] reason           free text, "" for none
  ARGV[4] decidedBy        engine | recovery | inquiry | operator | participant
  ARGV[5] votes            JSON object name -> vote, "" for none
  ARGV[6] retryDelayMs     when phase 2 becomes due for recovery if nobody acknowledges it
  ARGV[7] retentionSeconds lifetime of a record created here for an unknown txid
  ARGV[8] maxEvents        stream length bound
  ARGV[9] missingRecord    "presume": an unknown txid may only be aborted, and is finished at
                           once (presumed abort, nobody to notify);
                           "create":  an unknown txid gets a record that awaits its end (a
                           participant's journal meeting a decision before its own vote)
                           "voted":   the record must hold a YES vote from ARGV[10]; a
                           participant's COMMIT is journaled only for a transaction it
                           prepared (PostgreSQL's prepared state needs no extra query);
                           the record is not put in the unacked index and expires after
                           ARGV[7] (no end record follows)
  ARGV[10] voter           participant name for "voted", "" otherwise

  A one-phase transaction is decided by its single participant: only a caller that asked it
  (the engine, recovery) may write its decision; an inquiry ("inquiry") is refused.

  Returns {1, decision, reason}   this call wrote the decision
          {0, decision, reason}   a decision was already stored; it is returned unchanged
          {-1, "", ""}            NO-RECORD: commit asked for an unknown txid in presume mode;
                                  nothing written
          {-2, "", ""}            ONE-PHASE: an inquiry may not decide a one-phase transaction;
                                  nothing written
          {-3, "", ""}            NOT-VOTED: "voted" mode and no YES vote from ARGV[10];
                                  nothing written
]]
--- @include "time-ms"
local existing = redis.call('HGET', KEYS[1], 'decision')
if existing then
  return {0, existing, redis.call('HGET', KEYS[1], 'reason') or ''}
end
local now = timeMs()
local decision = ARGV[2]
local known = redis.call('EXISTS', KEYS[1]) == 1
if known and ARGV[4] == 'inquiry' and redis.call('HGET', KEYS[1], 'onePhase') == '1' then
  return {-2, '', ''}
end

if ARGV[9] == 'voted' and redis.call('HGET', KEYS[1], 'vote:' .. ARGV[10]) ~= 'yes' then
  return {-3, '', ''}
end

if not known and ARGV[9] == 'presume' then
  if decision ~= 'abort' then
    return {-1, '', ''}
  end
  redis.call('HSET', KEYS[1], 'txid', ARGV[1], 'decision', 'abort', 'state', 'aborted', 'presumed', '1',
    'reason', ARGV[3], 'decidedBy', ARGV[4], 'decidedAt', now, 'createdAt', now, 'endedAt', now)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', 'type', 'decision', 'at', now,
    'data', cjson.encode({decision = 'abort', reason = ARGV[3], by = ARGV[4], presumed = true}))
  redis.call('EXPIRE', KEYS[1], ARGV[7])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
  return {1, 'abort', ARGV[3]}
end

local state = 'committing'
if decision == 'abort' then state = 'aborting' end
redis.call('HSET', KEYS[1], 'txid', ARGV[1], 'decision', decision, 'state', state, 'reason', ARGV[3],
  'decidedBy', ARGV[4], 'decidedAt', now)
if not known then
  redis.call('HSET', KEYS[1], 'createdAt', now)
end
if ARGV[5] ~= '' then
  for name, vote in pairs(cjson.decode(ARGV[5])) do
    redis.call('HSET', KEYS[1], 'vote:' .. name, vote)
  end
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', 'type', 'decision', 'at', now,
  'data', cjson.encode({decision = decision, reason = ARGV[3], by = ARGV[4]}))
if ARGV[9] == 'voted' then
  -- A participant's COMMIT needs no end record: its recovery is driven by PostgreSQL's list of
  -- prepared transactions, not by this index, so the record simply expires.
  redis.call('EXPIRE', KEYS[1], ARGV[7])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
else
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[6]), ARGV[1])
end
return {1, decision, ARGV[3]}
