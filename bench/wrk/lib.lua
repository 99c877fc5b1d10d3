-- Shared by every scenario script (loaded with dofile): done() helpers that
-- write wrk's summary as one JSON object to $BENCH_JSON, and token files.
-- The scripts assume one wrk thread (-t1), as bench/run.sh runs them.

threads = {}

function setup(thread)
  table.insert(threads, thread)
  if #threads > 1 then
    error("bench/wrk scripts expect a single wrk thread (-t1)")
  end
end

-- report writes the summary; extra is a table of further integer fields.
function report(summary, latency, extra)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local fields = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_s":%.3f', secs),
    string.format('"rps":%.1f', summary.requests / secs),
    string.format('"p50_ms":%.3f', latency:percentile(50) / 1000),
    string.format('"p90_ms":%.3f', latency:percentile(90) / 1000),
    string.format('"p99_ms":%.3f', latency:percentile(99) / 1000),
    string.format('"max_ms":%.3f', latency.max / 1000),
    -- wrk counts a response with status >= 400 as a status error: that is
    -- the non-2xx count (the API answers no 1xx or 3xx on these routes).
    string.format('"non2xx":%d', e.status),
    string.format('"socket_errors":%d', e.connect + e.read + e.write + e.timeout),
    string.format('"timeouts":%d', e.timeout),
  }
  for k, v in pairs(extra or {}) do
    fields[#fields + 1] = string.format('"%s":%d', k, v)
  end
  local f = assert(io.open(assert(os.getenv("BENCH_JSON"), "BENCH_JSON unset"), "w"))
  f:write("{" .. table.concat(fields, ",") .. "}\n")
  f:close()
end

-- refresh_token_of returns the refreshToken of a token-pair body, or nil.
function refresh_token_of(body)
  return body and body:match('"refreshToken"%s*:%s*"(%x+)"')
end

function read_tokens(path)
  local list = {}
  for line in io.lines(path) do
    if #line == 64 then list[#list + 1] = line end
  end
  return list
end

function write_tokens(path, list, mode)
  local f = assert(io.open(path, mode or "w"))
  for _, t in ipairs(list) do f:write(t, "\n") end
  f:close()
end
