-- wrk script of the saturated intake bench: one signed request, sent on every connection with a
-- fresh X-GitHub-Delivery each time (the signature covers only the body, so it stays valid).
-- Arguments after `--`: the file holding the encoded request, the delivery id's placeholder in
-- it, and 8 hex digits that make this run's ids unique.
local head, tail, prefix
local sent = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local raw = file:read("*a")
  file:close()
  local at = assert(string.find(raw, args[2], 1, true), "no placeholder in the request")
  head = string.sub(raw, 1, at - 1)
  tail = string.sub(raw, at + #args[2])
  -- Shaped like GitHub's ids (a UUID): run prefix, thread, then a counter.
  prefix = string.format("%s-%04x-4000-8000-", args[3], thread_number or 0)
end

function request()
  sent = sent + 1
  return head .. prefix .. string.format("%012x", sent) .. tail
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_WRK {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max
  ))
end
