-- Sends one pre-signed request over and over; bench/kms_load.py writes the request file.
local file = assert(io.open(os.getenv("BENCH_REQUEST"), "r"))
local method = file:read("*l")
local headers = {}
while true do
  local line = file:read("*l")
  if line == "" then break end
  local name, value = line:match("^([^:]+): (.*)$")
  headers[name] = value
end
local body = file:read("*a")
file:close()

request = function()
  return wrk.format(method, "/", headers, body)
end

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  -- Machine-readable tail for kms_load.py: latency percentiles in microseconds.
  io.write(string.format("BENCH p50=%d p99=%d requests=%d errors=%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
