--[[
  link-next: points an attempt's record at the attempt that follows it (the coordinator retried
  the request), only while that record exists. A plain HSET on a record that has expired would
  create a hash holding only `next`, with no expiry, that nothing ever removes.

  KEYS[1] tx hash          {ns:shard}:tx:<txid of the earlier attempt>

  ARGV[1] next             txid of the attempt that follows

  Returns 1 when linked, 0 when the record no longer exists (nothing written)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'next', ARGV[1])
return 1
