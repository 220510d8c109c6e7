--[[
  decide-voted: a participant's journal taking a decision only for a transaction it prepared:
  the record must hold this participant's YES vote, which is written only after PREPARE
  TRANSACTION succeeded, so a stray COMMIT cannot put a decision there (and PostgreSQL's
  prepared state needs no extra query). Write-once like every decide-* script: the first
  decision stored wins, later callers get it back.

  No end record follows: the participant's recovery is driven by PostgreSQL's list of prepared
  transactions, not by an index, so the record is not put in the unacked index and simply
  expires.

  A one-phase transaction is decided by its single participant: an inquiry ("inquiry") may not
  write its decision.

  KEYS[1] tx hash          {ns:shard}:tx:<txid>
  KEYS[2] event stream     {ns:shard}:ev:<txid>
  KEYS[3] undecided index  {ns:shard}:undecided

  ARGV[1] txid
  ARGV[2] decision         "commit" | "abort"
  ARGV[3] reason           free text, "" for none
  ARGV[4] decidedBy        engine | recovery | inquiry | operator | participant
  ARGV[5] votes            JSON object name -> vote, "" for none
  ARGV[6] voter            participant name whose YES vote must be stored
  ARGV[7] retentionSeconds lifetime of the record and its events once decided
  ARGV[8] maxEvents        stream length bound

  Returns {1, decision, reason}   this call wrote the decision; record and events expire after
                                  ARGV[7]
          {0, decision, reason}   a decision was already stored; it is returned unchanged
          {-2, "", ""}            ONE-PHASE: an inquiry may not decide a one-phase transaction;
                                  nothing written
          {-3, "", ""}            NOT-VOTED: no YES vote from ARGV[6] is stored; nothing written
]]
--- @include "time-ms"
--- @include "record-decision"
local stored = redis.call('HGET', KEYS[1], 'decision')
if stored then
  return {0, stored, redis.call('HGET', KEYS[1], 'reason') or ''}
end
if ARGV[4] == 'inquiry' and redis.call('HGET', KEYS[1], 'onePhase') == '1' then
  return {-2, '', ''}
end
if redis.call('HGET', KEYS[1], 'vote:' .. ARGV[6]) ~= 'yes' then
  return {-3, '', ''}
end
local now = timeMs()
recordDecision(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[8],
  now, false)
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return {1, ARGV[2], ARGV[3]}
