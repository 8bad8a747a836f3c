-- rebuff's rate-limit decision in Redis: the same GCRA over every window of
-- a caller's plan, and the same escalation, as rebuff's in-process store
-- (runtime/src/ratelimit/gcra.rs), in one atomic step, on Redis's clock.
--
-- KEYS[1]  the caller's hash: t1..t4 (theoretical arrival times), s
--          (refusals counted), ss (since when), b (blocked until); all in
--          microseconds of Redis's clock. It expires when it no longer
--          matters (every window full again, no count, no block).
-- ARGV     n, then per window: period (us), quota; then escalation
--          refusals (0: off), within (us), block (us); then the most
--          requests to grant at once (a lease; 1: none) and refusals this
--          instance made on its own since it last asked (counted now).
-- Returns  {outcome (0 admitted, 1 limited, 2 blocked), refusing window
--          (0-based), retry after (us), now (us), requests granted,
--          refusals counted, then per window: remaining, time to full (us)}.
-- A refusal writes nothing unless the escalation counts it.

local key = KEYS[1]
local n = tonumber(ARGV[1])
local period, cost, quota = {}, {}, {}
local at = 2
for i = 1, n do
  period[i] = tonumber(ARGV[at])
  quota[i] = tonumber(ARGV[at + 1])
  cost[i] = math.max(math.floor(period[i] / math.max(quota[i], 1)), 1)
  at = at + 2
end
local esc_refusals = tonumber(ARGV[at])
local esc_within = tonumber(ARGV[at + 1])
local esc_block = tonumber(ARGV[at + 2])
local lease = math.max(tonumber(ARGV[at + 3]), 1)
local extra = tonumber(ARGV[at + 4])

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local f = redis.call('HMGET', key, 't1', 't2', 't3', 't4', 's', 'ss', 'b')
local tat = {}
for i = 1, n do tat[i] = tonumber(f[i]) or 0 end
local strikes = tonumber(f[5]) or 0
local since = tonumber(f[6]) or 0
local blocked = tonumber(f[7]) or 0

local outcome, window, wait, granted = 0, 0, 0, 0
local dirty = false

-- Counts `count` refusals; enough of them within the escalation's time
-- block the caller.
local function strike(count)
  if strikes == 0 or now - since > esc_within then
    strikes = 0
    since = now
  end
  strikes = strikes + count
  dirty = true
  if strikes >= math.max(esc_refusals, 1) then
    blocked = now + esc_block
    outcome = 2
    wait = esc_block
  end
end

if blocked > now then
  outcome = 2
  wait = blocked - now
else
  if blocked ~= 0 then
    -- The block is over: the caller starts afresh.
    strikes, since, blocked = 0, 0, 0
    dirty = true
  end
  if esc_refusals > 0 and extra > 0 then
    strike(extra)
  end
  if outcome == 0 then
    -- Every window must admit; the longest wait decides when to come back.
    local refused = nil
    for i = 1, n do
      local next = math.max(tat[i], now) + cost[i]
      if next - now > period[i] then
        local w = next - now - period[i]
        if refused == nil or w > wait then
          refused = i
          wait = w
        end
      end
    end
    if refused == nil then
      -- One request, and a lease of more while every window keeps at
      -- least half its quota after it.
      granted = 1
      while granted < lease do
        local room = true
        for i = 1, n do
          local used = math.max(tat[i], now) + (granted + 1) * cost[i] - now
          local left = math.floor((period[i] - used) / cost[i])
          if used > period[i] or left * 2 < quota[i] then
            room = false
            break
          end
        end
        if not room then break end
        granted = granted + 1
      end
      for i = 1, n do tat[i] = math.max(tat[i], now) + granted * cost[i] end
      dirty = true
    else
      outcome = 1
      window = refused - 1
      if esc_refusals > 0 then strike(1) end
    end
  end
end

if dirty then
  local fields = {}
  local last = now
  for i = 1, n do
    fields[#fields + 1] = 't' .. i
    fields[#fields + 1] = string.format('%d', tat[i])
    last = math.max(last, tat[i])
  end
  fields[#fields + 1] = 's'
  fields[#fields + 1] = string.format('%d', strikes)
  fields[#fields + 1] = 'ss'
  fields[#fields + 1] = string.format('%d', since)
  fields[#fields + 1] = 'b'
  fields[#fields + 1] = string.format('%d', blocked)
  if strikes > 0 then last = math.max(last, since + esc_within) end
  last = math.max(last, blocked)
  redis.call('HSET', key, unpack(fields))
  redis.call('PEXPIRE', key, math.floor((last - now) / 1000) + 1000)
end

local out = {outcome, window, wait, now, granted, strikes}
for i = 1, n do
  local used = math.max(tat[i] - now, 0)
  local left = math.floor(math.max(period[i] - used, 0) / cost[i])
  out[#out + 1] = math.min(left, quota[i])
  out[#out + 1] = used
end
return out
