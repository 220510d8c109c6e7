--[[
  timeMs(): now on the Redis clock, in milliseconds. Every time the log stores (deadlines,
  retry times, creation, decision and end times) is on this one clock, so every coordinator
  process agrees on "now" whatever its own clock says.
]]
local function timeMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
