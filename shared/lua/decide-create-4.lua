--[[
  decide-create: a decision for a transaction that may have no record yet: a participant's
  journal meeting an ABORT before its own vote (the ABORT overtook the PREPARE, or a peer asked
  first). Write-once like every decide-* script: the first decision stored wins, later callers
  get it back.

  A txid with no record gets one, created here (createdAt = now), that awaits its end like any
  other: it goes into the unacked index.

  A one-phase transaction is decided by its single participant: an inquiry ("inquiry") may not
  write its decision.

  KEYS[1] tx hash          {ns:shard}:tx:<txid>
  KEYS[2] event stream     {ns:shard}:ev:<txid>
  KEYS[3] undecided index  {ns:shard}:undecided
  KEYS[4] unacked index    {ns:shard}:unacked     (zset txid -> next phase-2 attempt, Redis clock ms)

  ARGV[1] txid
  ARGV[2] decision         "commit" | "abort"
  ARGV[3] reason           free text, "" for none
  ARGV[4] decidedBy        engine | recovery | inquiry | operator | participant
  ARGV[5] votes            JSON object name -> vote, "" for none
  ARGV[6] retryDelayMs     when the transaction becomes due for recovery if it does not end
  ARGV[7] maxEvents        stream length bound

  Returns {1, decision, reason}   this call wrote the decision (unacked index at now + ARGV[6])
          {0, decision, reason}   a decision was already stored; it is returned unchanged
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
if ARGV[4] == 'inquiry' and redis.call('HGET', KEYS[1], 'onePhase') == '1' then
  return {-2, '', ''}
end
local createdHere = redis.call('EXISTS', KEYS[1]) == 0
recordDecision(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[7],
  now, createdHere)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[6]), ARGV[1])
return {1, ARGV[2], ARGV[3]}
