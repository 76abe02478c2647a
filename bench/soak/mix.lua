-- A request mix for scripts/soak.sh: stored images and their transforms (cache hits), new transform
-- options (derivative misses) and new prompts (generations). Counts 5xx answers across all threads.
local ids = {}
for id in string.gmatch(os.getenv("SOAK_IDS") or "", "[^,]+") do ids[#ids + 1] = id end

local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  server_errors, statuses = 0, {}
  counter = 0
  math.randomseed(os.time() * 1000 + id)
end

function request()
  counter = counter + 1
  local pick = math.random(100)
  local image = ids[math.random(#ids)]
  local path
  if pick <= 45 then
    path = "/img/" .. image .. "/width=320,format=webp"          -- cache hit
  elseif pick <= 60 then
    path = "/640x480/soak-seed-" .. math.random(8)              -- stored image by URL
  elseif pick <= 90 then
    path = "/img/" .. image .. "/width=" .. math.random(40, 900) .. ",format=webp"  -- derivative miss (mostly)
  else
    path = "/" .. math.random(200, 700) .. "x" .. math.random(200, 700) .. "/soak-new-" .. id .. "-" .. counter
  end
  return wrk.format("GET", path)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 500 then server_errors = server_errors + 1 end
end

function done(summary, latency, requests)
  local errors5xx, by_status = 0, {}
  for _, thread in ipairs(threads) do
    errors5xx = errors5xx + thread:get("server_errors")
    for status, n in pairs(thread:get("statuses")) do by_status[status] = (by_status[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(by_status) do parts[#parts + 1] = status .. "=" .. n end
  table.sort(parts)
  io.write(string.format("SOAK requests=%d seconds=%.1f rps=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f errors_5xx=%d socket_errors=%d statuses=%s\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, errors5xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end
