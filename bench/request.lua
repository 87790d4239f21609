-- Sends pre-signed requests over and over, round robin; bench/api_load.py writes the file:
-- per request a method line, header lines, an empty line and the body on one line.
local file = assert(io.open(os.getenv("BENCH_REQUEST"), "r"))
local parsed = {}
while true do
  local method = file:read("*l")
  if method == nil then break end
  local headers = {}
  while true do
    local line = file:read("*l")
    if line == "" then break end
    local name, value = line:match("^([^:]+): (.*)$")
    headers[name] = value
  end
  local body = file:read("*l")
  parsed[#parsed + 1] = {method = method, headers = headers, body = body}
end
file:close()

-- Formatted per thread in init: only then does wrk know the Host header to add.
local requests = {}
init = function(args)
  for i, r in ipairs(parsed) do
    requests[i] = wrk.format(r.method, "/", r.headers, r.body)
  end
end

local next_request = 0
request = function()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  -- Machine-readable tail for api_load.py: latency percentiles in microseconds.
  io.write(string.format("BENCH p50=%d p99=%d requests=%d errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
