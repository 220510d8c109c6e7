--[[
  decide-presume: the coordinator's write-once decision register. Whoever writes first wins (the
  engine, recovery, an operator, a participant's inquiry after the deadline); every later caller
  gets the stored value back and must obey it. This one rule makes duplicate, stale and
  concurrent coordinators safe.

  A txid with no record was never begun here, or its record has expired: it is presumed
  aborted. Abort is written for it as a finished record (nobody to notify), so it can never
  begin or commit afterwards; commit is refused.

  A one-phase transaction is decided by its single participant: only a caller that asked it
  (the engine, recovery) may write its decision; an inquiry ("inquiry") is refused.

  KEYS[1] tx hash          {ns:shard}:tx:<txid>
  KEYS[2] event stream     {ns:shard}:ev:<txid>
  KEYS[3] undecided index  {ns:shard}:undecided
  KEYS[4] unacked index    {ns:shard}:unacked     (zset txid -> next phase-2 attempt, Redis clock ms)

  ARGV[1] txid
  ARGV[2] decision         "commit" | "abort"
  ARGV[3] reason           free text, "" for none
  ARGV[4] decidedBy        engine | recovery | inquiry | operator | participant
  ARGV[5] votes            JSON object name -> vote, "" for none (not stored for a presumed abort)
  ARGV[6] retryDelayMs     when phase 2 becomes due for recovery if nobody acknowledges it
  ARGV[7] retentionSeconds lifetime of a presumed-abort record
  ARGV[8] maxEvents        stream length bound

  Returns {1, decision, reason}   this call wrote the decision: on an existing record it awaits
                                  phase 2 (unacked index at now + ARGV[6]); on a missing one it
                                  is a presumed abort (presumed=1, state aborted, ended, expires
                                  after ARGV[7])
          {0, decision, reason}   a decision was already stored; it is returned unchanged
          {-1, "", ""}            NO-RECORD: commit asked for a txid with no record; nothing
                                  written
          {-2, "", ""}            ONE-PHASE: an inquiry may not decide a one-phase transaction;
                                  nothing written
]]
--- @include "time-ms"
--- @include "record-decision"
local stored = redis.call('HGET', KEYS[1], 'decision')
if stored then
  return {0, stored, redis.call('HGET', KEYS[1], 'reason') or ''}
end
local now = timeMs()
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[2] ~= 'abort' then
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
if ARGV[4] == 'inquiry' and redis.call('HGET', KEYS[1], 'onePhase') == '1' then
  return {-2, '', ''}
end
recordDecision(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[8],
  now, false)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[6]), ARGV[1])
return {1, ARGV[2], ARGV[3]}
