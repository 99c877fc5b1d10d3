-- POST /auth/login as $BENCH_EMAIL / $BENCH_PASSWORD. Each successful
-- answer's refresh token is kept and, when $BENCH_TOKENS_OUT is set,
-- appended to that file: the logins of S4 are where S5's tokens come from.
dofile(os.getenv("BENCH_WRK_DIR") .. "/lib.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}',
  os.getenv("BENCH_EMAIL"), os.getenv("BENCH_PASSWORD"))

tokens = {}

function response(status, headers, body)
  if status == 200 then
    local t = refresh_token_of(body)
    if t then tokens[#tokens + 1] = t end
  end
end

function done(summary, latency, requests)
  local issued = {}
  for _, thread in ipairs(threads) do
    for _, t in ipairs(thread:get("tokens")) do issued[#issued + 1] = t end
  end
  local out = os.getenv("BENCH_TOKENS_OUT")
  if out and out ~= "" then write_tokens(out, issued, "a") end
  report(summary, latency, { tokens_issued = #issued })
end
