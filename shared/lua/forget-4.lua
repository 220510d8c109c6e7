--[[
  forget: a finished transaction leaves Redis once the archive (PostgreSQL) holds it. The
  archiver calls it only after the archive's commit, so a crash in between leaves a copy in both
  places, which the next pass archives again harmlessly (ON CONFLICT) and then forgets.

  KEYS[1] tx hash          {ns:shard}:tx:<txid>
  KEYS[2] event stream     {ns:shard}:ev:<txid>
  KEYS[3] finished index   {ns:shard}:finished
  KEYS[4] client index     {ns:shard}:client:<id> of the record's API key ("-" when none)

  ARGV[1] txid
  ARGV[2] next             the `next` link the archived copy holds ("" for none): a link written
                           since the copy was read must reach the archive first, so the record
                           is kept for the next pass

  Returns 1    forgotten
          0    no record (it expired): only its index entries are removed
          -1   the record is not finished; nothing removed
          -2   its `next` link changed since it was archived; nothing removed
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 0
end
local h = redis.call('HMGET', KEYS[1], 'state', 'next')
if h[1] ~= 'committed' and h[1] ~= 'aborted' then
  return -1
end
if (h[2] or '') ~= ARGV[2] then
  return -2
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
