--[[
  recordDecision(txKey, eventsKey, undecidedKey, txid, decision, reason, by, votes, maxEvents,
                 now, createdHere): the writes of a decision, the same in every decide-* script
  once it has found that it may decide. Kept in one place so that the record and the event a
  decision leaves cannot differ by who decided.

  Sets decision, state ("committing" | "aborting"), reason, decidedBy and decidedAt (and
  createdAt when createdHere: the record did not exist before), one vote:<name> field per entry
  of the JSON object `votes` ("" for none), removes txid from the undecided index and appends a
  "decision" event.
]]
local function recordDecision(txKey, eventsKey, undecidedKey, txid, decision, reason, by, votes,
                              maxEvents, now, createdHere)
  local state = 'committing'
  if decision == 'abort' then state = 'aborting' end
  redis.call('HSET', txKey, 'txid', txid, 'decision', decision, 'state', state, 'reason', reason,
    'decidedBy', by, 'decidedAt', now)
  if createdHere then
    redis.call('HSET', txKey, 'createdAt', now)
  end
  if votes ~= '' then
    for name, vote in pairs(cjson.decode(votes)) do
      redis.call('HSET', txKey, 'vote:' .. name, vote)
    end
  end
  redis.call('ZREM', undecidedKey, txid)
  redis.call('XADD', eventsKey, 'MAXLEN', '~', maxEvents, '*', 'type', 'decision', 'at', now,
    'data', cjson.encode({decision = decision, reason = reason, by = by}))
end
