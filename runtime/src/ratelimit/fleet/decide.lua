-- rebuff's rate-limit decision in Redis: the same GCRA over every window of
-- a caller's plan, and the same escalation, as rebuff's in-process store
-- (runtime/src/ratelimit/gcra.rs), in one atomic step, on Redis's clock.
--
-- KEYS[1]  the caller's state, seven little-endian doubles (struct.pack
--          '<ddddddd': every value an integer well under 2^53, so exact):
--          the theoretical arrival time of windows 1..4, refusals counted,
--          since when they are counted, blocked until; times in
--          microseconds of Redis's clock. One string read and written
--          whole: three commands a decision, as few as a single-window
--          limiter needs. It expires when it no longer matters (every
--          window full again, no count, no block).
-- ARGV[1]  eighteen little-endian doubles in one string (one C call to
--          read, where a dozen text arguments cost a dozen conversions):
--          the number of windows n; for each of four windows its period
--          (us), quota and cost of one request (us; unused windows zero);
--          escalation refusals (0: off), within (us), block (us); the most
--          requests to grant at once (a lease; 1: none); refusals this
--          instance made on its own since it last asked (counted now).
-- Returns  {outcome (0 admitted, 1 limited, 2 blocked), refusing window
--          (0-based), retry after (us), now (us), requests granted,
--          refusals counted, then per window: remaining, time to full (us)}.
-- A refusal writes nothing unless the escalation counts it (or the state
-- was ahead of the clock, below).

local max, floor = math.max, math.floor
local key = KEYS[1]
local n, p1, q1, c1, p2, q2, c2, p3, q3, c3, p4, q4, c4,
  esc_refusals, esc_within, esc_block, lease, extra =
  struct.unpack('<dddddddddddddddddd', ARGV[1])
local period = {p1, p2, p3, p4}
local quota = {q1, q2, q3, q4}
local cost = {c1, c2, c3, c4}
lease = max(lease, 1)

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local tat = {0, 0, 0, 0}
local strikes, since, blocked = 0, 0, 0
local stored = redis.call('GET', key)
if stored and #stored == 56 then
  tat[1], tat[2], tat[3], tat[4], strikes, since, blocked =
    struct.unpack('<ddddddd', stored)
end

local outcome, window, wait, granted = 0, 0, 0, 0
local dirty = false

-- A state ahead of anything a decision now leaves (Redis's clock set back,
-- a failover to a replica whose clock is behind) is read, and written
-- back, as the most a decision could have left: a window spent to its
-- tolerance, a block at most its length (the escalation's, or a refused
-- request's wait, at most its cost), refusals counted from now. Otherwise
-- the caller would be refused, or blocked, for as long as the clock's
-- step.
local dearest = 0
for i = 1, n do
  if tat[i] > now + period[i] then
    tat[i] = now + period[i]
    dirty = true
  end
  dearest = max(dearest, cost[i])
end
if blocked > now + max(esc_block, dearest) then
  blocked = now + max(esc_block, dearest)
  dirty = true
end
if since > now then
  since = now
  dirty = true
end

-- Counts `count` refusals; enough of them within the escalation's time
-- block the caller.
local function strike(count)
  if strikes == 0 or now - since > esc_within then
    strikes = 0
    since = now
  end
  strikes = strikes + count
  dirty = true
  if strikes >= max(esc_refusals, 1) then
    -- Never shorter than the wait the refusal had.
    local block = max(esc_block, wait)
    blocked = now + block
    outcome = 2
    wait = block
  end
end

if blocked > now then
  outcome = 2
  wait = blocked - now
else
  if blocked ~= 0 then
    -- The block is over: the caller starts afresh (nothing before it
    -- counts, refusals an instance made on its own included).
    strikes, since, blocked, extra = 0, 0, 0, 0
    dirty = true
  end
  if esc_refusals > 0 and extra > 0 then
    strike(extra)
  end
  if outcome == 0 then
    -- Every window must admit; the longest wait decides when to come back.
    local refused = nil
    for i = 1, n do
      local next = max(tat[i], now) + cost[i]
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
      -- least half its quota after it. In window i, g requests leave
      -- floor((period - used) / cost) - g of them to spend, where used is
      -- what the window holds now: at most that less half the quota may
      -- be granted. Worked out, not counted up, so that a large lease costs
      -- Redis no more than a small one.
      granted = lease
      for i = 1, n do
        local used = max(tat[i], now) - now
        local fits = floor((period[i] - used) / cost[i]) - math.ceil(quota[i] / 2)
        if fits < granted then granted = fits end
      end
      granted = max(granted, 1)
      for i = 1, n do tat[i] = max(tat[i], now) + granted * cost[i] end
      dirty = true
    else
      outcome = 1
      window = refused - 1
      if esc_refusals > 0 then strike(1) end
    end
  end
end

if dirty then
  local last = max(now, tat[1], tat[2], tat[3], tat[4], blocked)
  if strikes > 0 then last = max(last, since + esc_within) end
  redis.call('SET', key,
    struct.pack('<ddddddd', tat[1], tat[2], tat[3], tat[4], strikes, since, blocked),
    'PX', floor((last - now) / 1000) + 1000)
end

local out = {outcome, window, wait, now, granted, strikes}
for i = 1, n do
  local used = max(tat[i] - now, 0)
  local left = floor(max(period[i] - used, 0) / cost[i])
  out[#out + 1] = math.min(left, quota[i])
  out[#out + 1] = used
end
return out
