-- session.lua — wrk script for `make bench`: the documented request,
--   POST /api/agent/v1/session/create/ with X-OTAS-AGENT-KEY and the seed's
--   JSON body, on every connection.
-- wrk itself only counts answers outside 2xx/3xx; the response callback
-- counts every status but 200 exactly, per thread, and done() sums the
-- threads and prints one machine-readable line for the bench (load.py).
-- The key comes from the environment (OTAS_BENCH_KEY), never argv, so it
-- does not show in ps.  With OTAS_BENCH_TOKEN set instead, every request
-- is GET /api/some/v1/endpoint/ with that session token: the authorizer
-- checks it and otas-echo answers.

local key = os.getenv("OTAS_BENCH_KEY")
local token = os.getenv("OTAS_BENCH_TOKEN")
if token ~= nil and token ~= "" then
	wrk.method = "GET"
	wrk.path = "/api/some/v1/endpoint/"
	wrk.headers["X-OTAS-AGENT-SESSION-TOKEN"] = token
elseif key == nil or key == "" then
	io.stderr:write("session.lua: OTAS_BENCH_KEY is not set\n")
	os.exit(2)
else
	wrk.method = "POST"
	wrk.path = "/api/agent/v1/session/create/"
	wrk.headers["X-OTAS-AGENT-KEY"] = key
	wrk.headers["Content-Type"] = "application/json"
	wrk.body = '{"meta": {"task": "summarize", "input_length": 512}}'
end

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	non200 = 0
	last_bad = 0
end

function response(status, headers, body)
	if status ~= 200 then
		non200 = non200 + 1
		last_bad = status
	end
end

function done(summary, latency, requests)
	local bad, last = 0, 0
	for _, t in ipairs(threads) do
		bad = bad + t:get("non200")
		if t:get("last_bad") ~= 0 then
			last = t:get("last_bad")
		end
	end
	local e = summary.errors
	io.write(string.format("BENCH requests=%d duration_us=%d " ..
	    "p50_us=%d p99_us=%d max_us=%d non200=%d last_bad=%d " ..
	    "connect=%d read=%d write=%d timeout=%d status=%d\n",
	    summary.requests, summary.duration,
	    latency:percentile(50), latency:percentile(99), latency.max,
	    bad, last, e.connect, e.read, e.write, e.timeout, e.status))
end
