-- A fixed request (method, path and headers from wrk's command line);
-- only the JSON summary is added. wrk keeps its static fast path.
dofile(os.getenv("BENCH_WRK_DIR") .. "/lib.lua")

function done(summary, latency, requests)
  report(summary, latency)
end
