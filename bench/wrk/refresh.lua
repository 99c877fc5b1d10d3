-- POST /auth/refresh, spending every refresh token exactly once, as a
-- client does: the pool starts with the tokens in $BENCH_TOKENS_IN (issued
-- by real logins), each request takes one out, and each 200 puts back the
-- successor it carries. So the pool only needs one token per connection to
-- start; the tokens still in it at the end are written to
-- $BENCH_TOKENS_OUT for the next run. (Tokens in flight when wrk stops are
-- spent by the server but their successors are never read: each run loses
-- at most one per connection.) An empty pool sends a malformed token, which
-- the server answers 401 and wrk counts as non-2xx; "starved" says how often.
dofile(os.getenv("BENCH_WRK_DIR") .. "/lib.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

pool = {}
starved = 0

function init(args)
  pool = read_tokens(os.getenv("BENCH_TOKENS_IN"))
end

function request()
  local t = table.remove(pool)
  if not t then
    starved = starved + 1
    t = "spent"
  end
  return wrk.format(nil, nil, nil, '{"refreshToken":"' .. t .. '"}')
end

function response(status, headers, body)
  if status == 200 then
    local t = refresh_token_of(body)
    if t then pool[#pool + 1] = t end
  end
end

function done(summary, latency, requests)
  local left, hungry = {}, 0
  for _, thread in ipairs(threads) do
    for _, t in ipairs(thread:get("pool")) do left[#left + 1] = t end
    hungry = hungry + thread:get("starved")
  end
  write_tokens(os.getenv("BENCH_TOKENS_OUT"), left, "w")
  report(summary, latency, { tokens_left = #left, starved = hungry })
end
