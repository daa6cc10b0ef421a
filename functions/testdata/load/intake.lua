-- wrk script: portal submissions for the demo tenant, each with its own email
-- address. Used by `go tool -modfile=tools/task/go.mod task load`; counts non-201 answers as failures.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  failed = 0
end

request = function()
  counter = counter + 1
  local body = string.format('{"type":"access","email":"load-%d-%d@example.com","country":"DE"}', id, counter)
  return wrk.format("POST", "/api/portal/demo/requests", {["Content-Type"] = "application/json"}, body)
end

response = function(status, headers, body)
  if status ~= 201 then
    failed = failed + 1
  end
end

done = function(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do
    f = f + t:get("failed")
  end
  io.write(string.format("non-201 answers: %d\n", f))
  io.write(string.format("latency p50 %.2f ms, p99 %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
