-- SPDX-License-Identifier: ISC
-- wrk script of bench/cgi: every request carries the session cookie
-- ($RALLY_COOKIE, "rally=..."), and the summary is printed as one line
-- "RALLY-JSON {...}" (latencies in milliseconds) for bench/cgi to read.

local cookie = os.getenv("RALLY_COOKIE") or ""
if cookie ~= "" then
	wrk.headers["Cookie"] = cookie
end

local non_2xx = 0
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function response(status, headers, body)
	if status < 200 or status > 299 then
		non_2xx = non_2xx + 1
	end
end

function done(summary, latency, requests)
	local bad = 0
	for _, t in ipairs(threads) do
		bad = bad + (t:get("non_2xx") or 0)
	end
	local e = summary.errors
	io.write(string.format(
		'RALLY-JSON {"requests": %d, "duration_s": %.3f, "p50_ms": %.2f, ' ..
		'"p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "non_2xx": %d, ' ..
		'"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
		summary.requests, summary.duration / 1e6,
		latency:percentile(50) / 1000, latency:percentile(90) / 1000,
		latency:percentile(99) / 1000, latency.max / 1000, bad,
		e.connect, e.read, e.write, e.status, e.timeout))
end
