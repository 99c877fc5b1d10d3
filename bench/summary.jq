# bench/summary.jq: the medians table from bench/out/results.jsonl
# (jq -rs -f bench/summary.jq bench/out/results.jsonl). Rounds "budget" and
# "profile" are left out. Ratios (S4 to bcrypt, S6 to S2, S1–S3 to the
# ceiling's C1–C3, S7 to S7-verify) are taken within each round, where both
# ran under the same background load, then medianed.

def median: sort | if length == 0 then null
  elif length % 2 == 1 then .[(length - 1) / 2]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def lpad($n): tostring | (" " * ([$n - length, 0] | max)) + .;
def rpad($n): tostring | . + (" " * ([$n - length, 0] | max));
def num($d): if . == null then "-" else (. * pow(10; $d) | round) / pow(10; $d) | tostring end;
def pct: if . == null then "-" else . * 100 | num(0) end;
def rate: if . == null then "-" elif . < 100 then num(1) else num(0) end;
def pass(c): if c then "ok" else "MISS" end;

[.[] | select(.round != "budget" and .round != "profile")] as $all
| ($all | map(.round) | unique) as $rounds
| def of($id): [$all[] | select(.scenario == $id)];
  def med($id; f): [of($id)[] | f] | median;
  def ratios($a; $b; f): [$rounds[] as $r
    | ([$all[] | select(.round == $r and .scenario == $a)][0]) as $x
    | ([$all[] | select(.round == $r and .scenario == $b)][0]) as $y
    | select($x != null and $y != null and ($y | f) > 0) | ($x | f) / ($y | f)];
  def ratio($a; $b; f): ratios($a; $b; f) | median;
  (med("S0"; .rps)) as $static
| [
    ["S0", "static Gin ceiling", "-", "-"],
    ["S1", "GET /public/status", ">=15000 req/s, p99<=12 ms",
      pass(med("S1"; .rps) >= 15000 and med("S1"; .p99_ms) <= 12)],
    ["C1", "ceiling: GET /public/status", "-", "-"],
    ["S2", "GET /projects", ">=5600 req/s, p99<=22 ms",
      pass(med("S2"; .rps) >= 5600 and med("S2"; .p99_ms) <= 22)],
    ["C2", "ceiling: GET /projects", "-", "-"],
    ["S3", "GET /auth/me", ">=5900 req/s, p99<=25 ms",
      pass(med("S3"; .rps) >= 5900 and med("S3"; .p99_ms) <= 25)],
    ["C3", "ceiling: GET /auth/me", "-", "-"],
    ["S4", "POST /auth/login", ">=80% of bcrypt: \(ratio("S4"; "bcrypt"; .rps) | pct)%",
      pass(ratio("S4"; "bcrypt"; .rps) >= 0.8)],
    ["S5", "POST /auth/refresh", "-", "-"],
    ["S6", "GET /projects + login flood", ">=60% of S2: \(ratio("S6"; "S2"; .rps) | pct)%, p99<=100 ms",
      pass(ratio("S6"; "S2"; .rps) >= 0.6 and med("S6"; .p99_ms) <= 100)],
    ["S6-logins", "the flood's logins", "-", "-"],
    ["S7", "forged tokens past budget", ">=5x S7-verify: \(ratio("S7"; "S7-verify"; .rps) | num(2))x",
      pass(ratio("S7"; "S7-verify"; .rps) >= 5)],
    ["S7-verify", "forged tokens, verified", "-", "-"],
    ["bcrypt", "go test bcrypt benchmark", "-", "-"]
  ] as $rows
| ([("scenario" | rpad(10)), ("what" | rpad(28)), ("conns" | lpad(5)), ("req/s" | lpad(9)), ("p50 ms" | lpad(8)),
    ("p99 ms" | lpad(8)), ("non-2xx" | lpad(8)), ("cpu µs/req" | lpad(10)), ("redis µs" | lpad(8)), ("static" | lpad(8)), ("%static" | lpad(7)), "verdict budget"] | join(" ")),
  ($rows[] as [$id, $what, $budget, $verdict]
    | select((of($id) | length) > 0)
    | [($id | rpad(10)), ($what | rpad(28)),
       (of($id)[0].connections | if . == 0 then "-" else . end | lpad(5)),
       (med($id; .rps) | rate | lpad(9)),
       (med($id; .p50_ms) | num(2) | lpad(8)),
       (med($id; .p99_ms) | num(2) | lpad(8)),
       ([of($id)[] | .non2xx // 0] | add | lpad(8)),
       (med($id; .server_cpu_us_per_req) | num(0) | lpad(10)),
       (med($id; .redis_cpu_us_per_req) | num(0) | lpad(8)),
       ($static | num(0) | lpad(8)),
       (if ($id | IN("S4", "S6-logins", "S7", "S7-verify", "bcrypt")) or $static == null then "-" else med($id; .rps) / $static * 100 | num(1) end | lpad(7)),
       ($verdict | rpad(4)), $budget] | join(" ")),
  (if (of("C1") + of("C2") + of("C3") | length) == 0 then empty else
    "",
    "API ÷ ceiling (the minimal server of the same work, driven alternately in each round; budget: req/s >= 1.0, p99 <= 1.2)",
    (["S1", "S2", "S3"][] as $id | ("C" + $id[1:]) as $c | select((of($id) | length) > 0 and (of($c) | length) > 0)
      | ratios($id; $c; .rps) as $rr | ratios($id; $c; .p99_ms) as $pr
      | "\($id | rpad(10)) req/s \($rr | median | num(2) | lpad(5)) (rounds \($rr | map(num(2)) | join(" ")))  p99 \($pr | median | num(2) | lpad(5)) (rounds \($pr | map(num(2)) | join(" ")))  \(pass(($rr | median) >= 1 and ($pr | median) <= 1.2))")
  end),
  (of("RSS") | select(length > 0)
    | [.[] | .peak_rss_mb] as $mb
    | "RSS        server peak (VmHWM) during S1–S5: median \($mb | median | num(1)) MB, max \($mb | max | num(1)) MB   budget <=80 MB: \(pass(($mb | max) <= 80))"),
  ([$all[] | select(.socket_errors > 0) | "\(.scenario) round \(.round): \(.socket_errors) socket errors (\(.timeouts) timeouts)"] | .[]),
  ([$all[] | select(.scenario == "S5" and (.starved // 0) > 0) | "S5 round \(.round): token pool ran dry \(.starved) times"] | .[])
