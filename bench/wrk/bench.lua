-- wrk script used by every benchmark case (bench/run.ts passes it with -s).
--
-- The request is configured through environment variables so that one static
-- script covers all cases and wrk can still pre-build the request once:
--   BENCH_METHOD      request method (GET, HEAD, PUT); default GET
--   BENCH_BODY_BYTES  request body size in bytes (PUT); default 0 (no body)
-- Request headers such as "Connection: close" or "If-None-Match" come from
-- wrk's -H flag.
--
-- No response() hook is defined on purpose: it makes wrk parse every response
-- into Lua and would turn the client into the bottleneck. The done() hook below
-- prints one machine-readable line that bench/run.ts parses: wrk's own counts
-- of socket errors and of responses with a status above 399.

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body_bytes = tonumber(os.getenv("BENCH_BODY_BYTES") or "0") or 0
if body_bytes > 0 then
  wrk.body = string.rep("x", body_bytes)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%.0f,"bytes":%.0f,"durationUs":%.0f,' ..
    '"connectErrors":%.0f,"readErrors":%.0f,"writeErrors":%.0f,"timeouts":%.0f,' ..
    '"statusErrors":%.0f,"latencyMeanUs":%.0f,"latencyP50Us":%.0f,' ..
    '"latencyP99Us":%.0f,"latencyMaxUs":%.0f}\n',
    summary.requests, summary.bytes, summary.duration,
    errors.connect, errors.read, errors.write, errors.timeout,
    errors.status, latency.mean, latency:percentile(50),
    latency:percentile(99), latency.max))
end
