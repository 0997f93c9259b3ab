-- wrk script for bench/tabs.py: simulated tabs beating on /version at a fixed total rate.
--
-- Environment: TABS (how many tabs), RATE (beats/s, all threads), THREADS and CONNECTIONS (as
-- given to wrk), CURRENT and PREVIOUS (the two releases). Tab i runs PREVIOUS (and is stale)
-- when i % 10 == 0, and is held by a call when i % 50 == 0: the mix of bench/tabs.py.
--
-- wrk has no rate limit of its own: each thread hands out send slots at RATE / THREADS per
-- second, and a connection that got its answer waits for its next slot (delay()). A slot
-- already past is sent at once and counted as late, so a server (or a generator) that cannot
-- keep up shows as "late", not as a silently lower rate.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } skewguard_timespec;
int clock_gettime(int clock, skewguard_timespec *now);
]])
local clock = ffi.new("skewguard_timespec")
local function now()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local threads = {}
local count = 0

function setup(thread)
  thread:set("index", count)
  count = count + 1
  table.insert(threads, thread)
end

-- late and late_ms are globals: done() reads them from each thread (thread:get).
local tabs, step, tab, current, previous, interval, first, slot

function init(args)
  local total = tonumber(os.getenv("THREADS"))
  tabs = tonumber(os.getenv("TABS"))
  current, previous = os.getenv("CURRENT"), os.getenv("PREVIOUS")
  interval = total / tonumber(os.getenv("RATE")) -- seconds between this thread's slots
  step = total
  tab = index -- this thread beats for tabs index, index + THREADS, ...
  -- The first request of every connection goes out at connect time: those take the first slots.
  slot = math.floor(tonumber(os.getenv("CONNECTIONS")) / total)
  first = now()
  late, late_ms = 0, 0
end

function request()
  local i = tab
  tab = tab + step
  if tab >= tabs then
    tab = index
  end
  local release, stale, held = current, "0", ""
  if i % 10 == 0 then
    release, stale = previous, "1"
  end
  if i % 50 == 0 then
    held = "call"
  end
  return wrk.format(
    "GET",
    string.format("/version?tid=tab%012dx&rel=%s&stale=%s&held=%s&err=0", i, release, stale, held),
    { ["Accept"] = "application/json" }
  )
end

function delay()
  local due = first + slot * interval
  slot = slot + 1
  local wait = (due - now()) * 1000
  if wait < 0 then
    if wait < -10 then -- more than 10 ms behind its slot
      late = late + 1
      late_ms = late_ms - wait
    end
    return 0
  end
  return wait
end

function done(summary, latency, requests)
  local late_total, late_sum = 0, 0
  for _, thread in ipairs(threads) do
    late_total = late_total + thread:get("late")
    late_sum = late_sum + thread:get("late_ms")
  end
  local e = summary.errors
  io.write(string.format(
    "TABS requests=%d seconds=%.3f errors=%d status_errors=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f late=%d late_mean_ms=%.1f\n",
    summary.requests, summary.duration / 1e6,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    late_total, late_total > 0 and late_sum / late_total or 0
  ))
end
