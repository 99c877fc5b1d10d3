#!/usr/bin/env bash
# bench/run.sh — the API's load benchmark, on PostgreSQL and Redis as in
# production. One command from a fresh clone:
#
#   bash bench/run.sh               # 3 rounds + one profiled pass, ~20 minutes
#   ROUNDS=1 PROFILE=0 bash bench/run.sh   # one quick round
#   ONLY="S2 S3" ROUNDS=3 PROFILE=0 bash bench/run.sh   # some scenarios
#
# It installs wrk (and jq) when missing, starts PostgreSQL and Redis when
# they are down (as .ci/run does), builds the API and a static Gin ceiling,
# creates its own database (dropped at the end, also on failure) and uses its
# own Redis DB index (its keys are deleted at the end), seeds an admin, a
# viewer and 20 projects, and drives the server with wrk: one thread, 64
# connections, 3 s of warm-up and 15 s per scenario (logins: 8 connections,
# 10 s; refreshes: 16). Results: a table and JSON lines on stdout and in
# bench/out/results.jsonl; profiles in bench/out/profiles/. bench/README.md
# explains each scenario and figure.
#
# When a minimal server of the same work sits beside the clone at
# ../shared/ceiling, it is built too and driven alternately with the API in
# every round (S1–S3 on the same database, keys and settings, its own Redis
# DB), and S1–S3 are also printed as API ÷ ceiling.
#
# Tuning knobs for experiments pass through to the server when set:
# DB_MAX_OPEN_CONNS DB_MAX_IDLE_CONNS BCRYPT_CONCURRENCY BCRYPT_WAIT
# GOMAXPROCS GOGC GOMEMLIMIT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
OUT=${OUT:-$BENCH/out}
export PATH="$PATH:/usr/local/go/bin"

ROUNDS=${ROUNDS:-3}
PROFILE=${PROFILE:-1}             # 1: one more pass of S1–S3 with CPU and alloc profiles
CONNS=${CONNS:-64}                # S1–S3, S0 (static)
WARMUP=${WARMUP:-3}               # seconds, before every scenario
DURATION=${DURATION:-15}          # seconds, S0–S3, S5, S6
LOGIN_CONNS=${LOGIN_CONNS:-8}     # S4
LOGIN_DURATION=${LOGIN_DURATION:-10}
REFRESH_CONNS=${REFRESH_CONNS:-16} # S5
FLOOD_CONNS=${FLOOD_CONNS:-32}    # S6's concurrent logins
BUDGET_REQUESTS=${BUDGET_REQUESTS:-2000} # S2 requests counted for the round-trip budget
BENCH_REDIS_DB=${BENCH_REDIS_DB:-11}
CEILING_REDIS_DB=${CEILING_REDIS_DB:-13} # the ceiling's limiter keys would collide with the API's
CEILING_GOMAXPROCS=${CEILING_GOMAXPROCS:-1} # its README: best on 2 cores shared with wrk, Redis and PostgreSQL
FORGED_RATE=${FORGED_RATE:-100/1m} # S7: the global budget a forged-token flood overruns
ONLY=${ONLY:-}                    # e.g. "S1 S2 S3": run only these parts (S0…S7, budget, bcrypt)
PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER=postgres
REDIS_HOST=127.0.0.1 REDIS_PORT=6379
# Never refuses, yet every request still makes its limiter round trip. N is
# capped at 1,000,000 by the parser; a 1 s window keeps each sorted set at
# about one second of traffic instead of growing for a minute.
BENCH_RATE=${BENCH_RATE:-1000000/1s}
PASSWORD='Bench-Passw0rd-2024'
JWT_ISSUER=apisec JWT_AUDIENCE=apisec-api # the API's defaults, given to both servers
CEILING_SRC=$ROOT/../shared/ceiling CEILING=""
ADMIN_EMAIL=admin@bench.example VIEWER_EMAIL=viewer@bench.example

METRICS_PORT=""
WORK="" DB_NAME="" REDIS_PID="" SERVER_PID="" STATIC_PID="" CEILING_PID="" MONITOR_PID="" FLOOD_PID="" WATCH_PID=""
CLK_TCK=$(getconf CLK_TCK)

say() { printf '· %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

psql_q() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -X -q -tA -v ON_ERROR_STOP=1 "$@"; }
rcli() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$BENCH_REDIS_DB" "$@"; }

# ---------------------------------------------------------------- set-up

ensure_tools() {
	local missing=()
	command -v wrk >/dev/null || missing+=(wrk)
	command -v jq >/dev/null || missing+=(jq)
	command -v curl >/dev/null || missing+=(curl)
	if ((${#missing[@]})); then
		say "installing ${missing[*]} with apt-get"
		local sudo=""
		[ "$(id -u)" -eq 0 ] || sudo=sudo
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	for t in go psql pg_isready redis-cli; do
		command -v "$t" >/dev/null || die "$t is required"
	done
}

# The same as .ci/run.
start_services() {
	if ! pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; then
		say "starting PostgreSQL"
		pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
	fi
	if ! redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping >/dev/null 2>&1; then
		say "starting Redis"
		mkdir -p /var/lib/redis
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no --dir /var/lib/redis
	fi
	for _ in $(seq 60); do
		if pg_isready -h "$PG_HOST" -p "$PG_PORT" -q && redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping >/dev/null 2>&1; then
			return 0
		fi
		sleep 1
	done
	die "PostgreSQL or Redis did not come up"
}

# Stops only what this script started, by PID; drops its database and
# deletes its Redis keys. Runs on every exit.
cleanup() {
	local status=$?
	set +e
	# The flood is a subshell running wrk: stop its child first.
	[ -n "$FLOOD_PID" ] && pkill -P "$FLOOD_PID" wrk 2>/dev/null
	for pid in "$FLOOD_PID" "$MONITOR_PID" "$STATIC_PID" "$CEILING_PID" "$SERVER_PID"; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	if [ -n "$DB_NAME" ]; then
		psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 &&
			say "dropped database $DB_NAME"
	fi
	if [ -n "$WORK" ]; then
		rcli --scan --pattern 'rl:*' 2>/dev/null | xargs -r -n 500 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$BENCH_REDIS_DB" del >/dev/null
		if [ -n "$CEILING" ]; then
			redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$CEILING_REDIS_DB" --scan --pattern 'rl:*' 2>/dev/null |
				xargs -r -n 500 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$CEILING_REDIS_DB" del >/dev/null
		fi
		rm -rf "$WORK"
	fi
	exit "$status"
}

free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

prepare() {
	WORK=$(mktemp -d /tmp/apisec-bench.XXXXXX)
	mkdir -p "$OUT/profiles"
	: >"$OUT/results.jsonl"

	say "building the API and the static ceiling"
	(cd "$ROOT" && go build -o "$WORK/apisec" . && go build -o "$WORK/static" ./bench/static)
	if [ -f "$CEILING_SRC/go.mod" ]; then
		say "building the minimal server of the same work ($CEILING_SRC)"
		if (cd "$CEILING_SRC" && go build -o "$WORK/ceiling" .); then # -o: the folder may be read-only
			CEILING=$WORK/ceiling
		else
			say "the minimal server did not build: S1–S3 run without the API ÷ ceiling ratios"
		fi
	else
		say "no minimal server at $CEILING_SRC: S1–S3 run without the API ÷ ceiling ratios"
	fi

	DB_NAME=apisec_bench_$$
	psql_q -d postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
	DATABASE_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB_NAME?sslmode=disable"
	REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/$BENCH_REDIS_DB"
	if [ "$(rcli --scan --pattern 'rl:*' | head -1)" != "" ]; then
		die "Redis DB $BENCH_REDIS_DB already holds rl:* keys; pick another with BENCH_REDIS_DB"
	fi
	[ "$CEILING_REDIS_DB" != "$BENCH_REDIS_DB" ] || die "CEILING_REDIS_DB must differ from BENCH_REDIS_DB"
	if [ -n "$CEILING" ] && [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$CEILING_REDIS_DB" --scan --pattern 'rl:*' | head -1)" != "" ]; then
		die "Redis DB $CEILING_REDIS_DB already holds rl:* keys; pick another with CEILING_REDIS_DB"
	fi
	say "database $DB_NAME, Redis DB $BENCH_REDIS_DB"
	REDIS_PID=$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" info server | tr -d '\r' | awk -F: '$1 == "process_id" {print $2}')

	"$WORK/apisec" keys generate --dir "$WORK/keys" >/dev/null
	API_PORT=$(free_port 18080)
	STATIC_PORT=$(free_port $((API_PORT + 1)))
	CEILING_PORT=$(free_port $((STATIC_PORT + 1)))
	PPROF_PORT=$(free_port 16060)
	# Every feature on, as the budgets want: metrics too (METRICS=0: off).
	if [ "${METRICS:-1}" = 1 ]; then METRICS_PORT=$(free_port 19090); fi
	API=http://127.0.0.1:$API_PORT

	app migrate up >/dev/null
	say "seeding an admin and a viewer (bcrypt cost 12)"
	app users create --email "$ADMIN_EMAIL" --password "$PASSWORD" --role admin --verified >/dev/null
	app users create --email "$VIEWER_EMAIL" --password "$PASSWORD" --role viewer --verified >/dev/null
}

# app_cmd sets APP_CMD: the binary in production mode with a clean
# environment. Run it in the work folder, so no .env is read. GLOBAL_RATE
# overrides the global limit (S7).
app_cmd() { # [PPROF_ADDR]
	local pass=() v
	for v in DB_MAX_OPEN_CONNS DB_MAX_IDLE_CONNS BCRYPT_CONCURRENCY BCRYPT_WAIT GOMAXPROCS GOGC GOMEMLIMIT; do
		if [ -n "${!v:-}" ]; then pass+=("$v=${!v}"); fi
	done
	APP_CMD=(env -i PATH="$PATH" HOME="$WORK"
		APP_ENV=production PORT="$API_PORT" LOG_LEVEL=warn
		DATABASE_URL="$DATABASE_URL" REDIS_URL="$REDIS_URL"
		JWT_PRIVATE_KEY_PATH="$WORK/keys/jwt-private.pem" JWT_PUBLIC_KEY_PATH="$WORK/keys/jwt-public.pem"
		BCRYPT_COST=12 JWT_ISSUER="$JWT_ISSUER" JWT_AUDIENCE="$JWT_AUDIENCE"
		RATE_LIMIT_GLOBAL="${GLOBAL_RATE:-$BENCH_RATE}" RATE_LIMIT_LOGIN="$BENCH_RATE" RATE_LIMIT_AUTHENTICATED="$BENCH_RATE"
		${METRICS_PORT:+METRICS_ADDR=127.0.0.1:$METRICS_PORT} ${1:+PPROF_ADDR=$1} "${pass[@]}" "$WORK/apisec")
}

app() {
	app_cmd
	(cd "$WORK" && exec "${APP_CMD[@]}" "$@")
}

wait_ready() {
	local url=$1 pid=$2 log=$3
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "server exited"; }
		sleep 0.2
	done
	cat "$log" >&2
	die "server not ready: $url"
}

start_server() { # [pprof]
	local log=$WORK/server.log
	app_cmd ${1:+127.0.0.1:$PPROF_PORT}
	(cd "$WORK" && exec "${APP_CMD[@]}" serve) >"$log" 2>&1 &
	SERVER_PID=$!
	wait_ready "$API/healthz" "$SERVER_PID" "$log"
	if [ -n "$METRICS_PORT" ]; then
		curl -fsS -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics" || die "metrics on, but no /metrics on port $METRICS_PORT"
	fi
}

stop_server() {
	kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}

start_static() {
	"$WORK/static" -addr "127.0.0.1:$STATIC_PORT" >"$WORK/static.log" 2>&1 &
	STATIC_PID=$!
	wait_ready "http://127.0.0.1:$STATIC_PORT/public/status" "$STATIC_PID" "$WORK/static.log"
}

# The minimal server of the same work: the API's database, public key,
# issuer, audience and limits, its own port and Redis DB.
start_ceiling() {
	env -i PATH="$PATH" HOME="$WORK" PORT="$CEILING_PORT" GOMAXPROCS="$CEILING_GOMAXPROCS" \
		DATABASE_URL="$DATABASE_URL" REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/$CEILING_REDIS_DB" \
		JWT_PUBLIC_KEY_PATH="$WORK/keys/jwt-public.pem" JWT_ISSUER="$JWT_ISSUER" JWT_AUDIENCE="$JWT_AUDIENCE" \
		RATE_LIMIT_GLOBAL="$BENCH_RATE" RATE_LIMIT_AUTHENTICATED="$BENCH_RATE" \
		"$CEILING" serve >"$WORK/ceiling.log" 2>&1 &
	CEILING_PID=$!
	wait_ready "http://127.0.0.1:$CEILING_PORT/healthz" "$CEILING_PID" "$WORK/ceiling.log"
}

stop_ceiling() {
	kill "$CEILING_PID" && wait "$CEILING_PID" 2>/dev/null || true
	CEILING_PID=""
}

stop_static() {
	kill "$STATIC_PID" && wait "$STATIC_PID" 2>/dev/null || true
	STATIC_PID=""
}

# login EMAIL prints the JSON token pair.
login() {
	curl -fsS "$API/auth/login" -H 'Content-Type: application/json' \
		-d "{\"email\":\"$1\",\"password\":\"$PASSWORD\"}"
}

seed_projects() {
	local admin i
	admin=$(login "$ADMIN_EMAIL" | jq -r .accessToken)
	for i in $(seq -w 1 20); do
		curl -fsS -o /dev/null "$API/projects" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
			-d "{\"name\":\"Project $i\",\"description\":\"Seeded by bench/run.sh: a short description of project $i.\"}"
	done
	say "seeded 20 projects"
}

# ---------------------------------------------------------------- wrk

# wrk_json CONNS SECONDS SCRIPT URL [wrk args…] runs wrk once and prints the
# JSON object the script's done() wrote.
wrk_json() {
	local conns=$1 secs=$2 script=$3 url=$4
	shift 4
	local json
	json=$(mktemp "$WORK/wrk.XXXXXX")
	BENCH_WRK_DIR=$BENCH/wrk BENCH_JSON=$json \
		wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s --latency -s "$BENCH/wrk/$script" "$@" "$url" >"$json.log" 2>&1 ||
		{ cat "$json.log" >&2; die "wrk failed"; }
	[ -s "$json" ] || { cat "$json.log" >&2; die "wrk wrote no summary"; }
	cat "$json"
}

# cpu_ticks PID prints the process's user+system CPU time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measured CONNS SECONDS SCRIPT URL [wrk args…] is wrk_json plus the CPU
# time the server under test (WATCH_PID) spent per request: a figure that
# other load on the machine disturbs far less than req/s.
# The Redis server's CPU per request is shown too; other users of the same
# Redis server add to it.
measured() {
	local t0 t1 r0 r1 json
	t0=$(cpu_ticks "$WATCH_PID") r0=$(cpu_ticks "$REDIS_PID")
	json=$(wrk_json "$@")
	t1=$(cpu_ticks "$WATCH_PID") r1=$(cpu_ticks "$REDIS_PID")
	jq -c --argjson ticks "$((t1 - t0))" --argjson rticks "$((r1 - r0))" --argjson hz "$CLK_TCK" \
		'def per($t): if .requests > 0 then ($t / $hz * 1e6 / .requests | round) else null end;
		 . + {server_cpu_us_per_req: per($ticks), redis_cpu_us_per_req: per($rticks)}' <<<"$json"
}

# record ROUND ID NAME CONNS JSON adds the scenario's fields, prints the JSON
# line and appends it to results.jsonl.
record() {
	local line
	line=$(jq -c --arg round "$1" --arg id "$2" --arg name "$3" --argjson conns "$4" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
		'{round: $round, scenario: $id, name: $name, connections: $conns} + . + {loadavg: $load}' <<<"$5")
	echo "$line" | tee -a "$OUT/results.jsonl"
}

# scenario ROUND ID NAME CONNS SECONDS SCRIPT URL [wrk args…]: warm-up, then
# the measured run.
scenario() {
	local round=$1 id=$2 name=$3 conns=$4 secs=$5 script=$6 url=$7
	shift 7
	wrk_json "$conns" "$WARMUP" "$script" "$url" "$@" >/dev/null
	record "$round" "$id" "$name" "$conns" "$(measured "$conns" "$secs" "$script" "$url" "$@")"
}

# ------------------------------------------------------------ scenarios

run_static() { # ROUND
	start_static
	WATCH_PID=$STATIC_PID
	scenario "$1" S0 "static Gin ceiling" "$CONNS" "$DURATION" report.lua "http://127.0.0.1:$STATIC_PORT/public/status"
	stop_static
}

# S4's logins also issue the refresh tokens S5 starts from.
run_logins() { # ROUND
	BENCH_EMAIL=$VIEWER_EMAIL BENCH_PASSWORD=$PASSWORD BENCH_TOKENS_OUT=$WORK/tokens \
		scenario "$1" S4 "POST /auth/login" "$LOGIN_CONNS" "$LOGIN_DURATION" login.lua "$API/auth/login"
}

# S5 needs one token per connection to start each of its two wrk runs, plus
# a margin; more logins top the pool up if S4 issued too few.
run_refresh() { # ROUND
	local need=$((2 * REFRESH_CONNS + 16)) have
	while have=$(wc -l <"$WORK/tokens") && [ "$have" -lt "$need" ]; do
		say "topping up refresh tokens with more logins ($have/$need)"
		BENCH_EMAIL=$VIEWER_EMAIL BENCH_PASSWORD=$PASSWORD BENCH_TOKENS_OUT=$WORK/tokens \
			wrk_json "$LOGIN_CONNS" $(((need - have) / 4 + 2)) login.lua "$API/auth/login" >/dev/null
	done
	BENCH_TOKENS_IN=$WORK/tokens BENCH_TOKENS_OUT=$WORK/tokens.left \
		wrk_json "$REFRESH_CONNS" "$WARMUP" refresh.lua "$API/auth/refresh" >/dev/null
	mv "$WORK/tokens.left" "$WORK/tokens"
	record "$1" S5 "POST /auth/refresh" "$REFRESH_CONNS" "$(BENCH_TOKENS_IN=$WORK/tokens BENCH_TOKENS_OUT=$WORK/tokens.left \
		measured "$REFRESH_CONNS" "$DURATION" refresh.lua "$API/auth/refresh")"
}

# S6: GET /projects measured while a second wrk floods /auth/login.
run_flood() { # ROUND ACCESS_TOKEN
	local flood_json=$WORK/flood.json
	(BENCH_EMAIL=$VIEWER_EMAIL BENCH_PASSWORD=$PASSWORD \
		wrk_json "$FLOOD_CONNS" $((WARMUP + DURATION + 3)) login.lua "$API/auth/login" >"$flood_json") &
	FLOOD_PID=$!
	scenario "$1" S6 "GET /projects under a login flood" "$CONNS" "$DURATION" report.lua "$API/projects" -H "Authorization: Bearer $2"
	wait "$FLOOD_PID" || die "login flood failed"
	FLOOD_PID=""
	record "$1" S6-logins "POST /auth/login flood beside S6" "$FLOOD_CONNS" "$(cat "$flood_json")"
}

# The server's peak RSS: VmHWM, reset just before S1 (clear_refs 5).
reset_peak_rss() { echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || say "could not reset VmHWM: peak counts from start"; }
record_peak_rss() { # ROUND
	local kb
	kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
	record "$1" RSS "server peak RSS during S1–S5" 0 "{\"peak_rss_mb\": $(awk -v k="$kb" 'BEGIN {printf "%.1f", k / 1024}')}"
}

# bcrypt's own rate at cost 12 and the server's bcrypt concurrency (the
# Hasher's admission slots: BCRYPT_CONCURRENCY, by default half the CPUs as
# app/config sets it), from the package's CompareParallel benchmark run with
# that many goroutines (-cpu).
run_bcrypt_bench() { # ROUND
	local out rate n
	n=$(nproc)
	n=${BCRYPT_CONCURRENCY:-$((n / 2 > 1 ? n / 2 : 1))}
	out=$(cd "$ROOT" && go test -run='^$' -bench='^BenchmarkCompareParallel$' -cpu="$n" -benchtime=3s ./app/passwords/)
	rate=$(awk '$1 ~ /^BenchmarkCompareParallel(-[0-9]+)?$/ {for (i = 1; i < NF; i++) if ($(i + 1) == "ns/op") printf "%.3f", 1e9 / $i}' <<<"$out")
	[ -n "$rate" ] || { echo "$out" >&2; die "no rate from the bcrypt benchmark"; }
	record "$1" bcrypt "go test -bench=CompareParallel -cpu=$n ./app/passwords (cost 12)" 0 "{\"rps\": $rate, \"concurrency\": $n}"
}

# read_scenario ROUND ID PATH ACCESS_TOKEN: S1–S3 on the API and, when it
# was built, on the ceiling as C1–C3, one after the other, the API first in
# odd rounds and the ceiling first in even ones, so that each per-round
# ratio compares runs a few seconds apart.
read_scenario() {
	local round=$1 id=$2 path=$3 auth=() order=(api ceiling) who
	[ "$id" = S1 ] || auth=(-H "Authorization: Bearer $4")
	[ -n "$CEILING_PID" ] || order=(api)
	if ((round % 2 == 0)) && [ -n "$CEILING_PID" ]; then order=(ceiling api); fi
	for who in "${order[@]}"; do
		if [ "$who" = api ]; then
			WATCH_PID=$SERVER_PID
			scenario "$round" "$id" "GET $path" "$CONNS" "$DURATION" report.lua "$API$path" "${auth[@]}"
		else
			WATCH_PID=$CEILING_PID
			scenario "$round" "C${id#S}" "ceiling: GET $path" "$CONNS" "$DURATION" report.lua "http://127.0.0.1:$CEILING_PORT$path" "${auth[@]}"
		fi
	done
	WATCH_PID=$SERVER_PID
}

# forged ACCESS_TOKEN prints it with a wrong signature: one character in the
# middle of the signature changed (the last one may only carry padding bits).
forged() {
	local t=$1 i c
	i=$((${#t} - 20)) c=${t:i:1}
	[ "$c" = A ] && c=B || c=A
	echo "${t:0:i}$c${t:i+1}"
}

# S7: a flood of wrong-signature tokens on GET /projects from one IP. S7 is
# the flood past the IP's global budget (FORGED_RATE: answered 429 with no
# signature check); S7-verify the same flood on the benchmark's server,
# where the budget never runs out, so each token is verified and answered
# 401. Runs on a server of its own, after the other scenarios of the round.
run_forged() { # ROUND ACCESS_TOKEN
	local bad
	bad=$(forged "$2")
	scenario "$1" S7-verify "forged tokens, each verified (401)" "$CONNS" "$DURATION" report.lua "$API/projects" -H "Authorization: Bearer $bad"
	stop_server
	GLOBAL_RATE=$FORGED_RATE start_server
	WATCH_PID=$SERVER_PID
	scenario "$1" S7 "forged tokens past the budget (429)" "$CONNS" "$DURATION" report.lua "$API/projects" -H "Authorization: Bearer $bad"
}

# want PART: is PART (S0…S6, budget, bcrypt) among ONLY (default: all)?
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

run_round() { # ROUND
	local round=$1 viewer
	say "round $round: load average $(cut -d' ' -f1-3 /proc/loadavg)"
	if want S0; then run_static "$round"; fi
	if [ -n "$CEILING" ] && { want S1 || want S2 || want S3; }; then start_ceiling; fi
	start_server
	WATCH_PID=$SERVER_PID
	viewer=$(login "$VIEWER_EMAIL" | jq -r .accessToken)
	reset_peak_rss
	if want S1; then read_scenario "$round" S1 /public/status; fi
	if want S2; then read_scenario "$round" S2 /projects "$viewer"; fi
	if want S3; then read_scenario "$round" S3 /auth/me "$viewer"; fi
	if [ -n "$CEILING_PID" ]; then stop_ceiling; fi
	: >"$WORK/tokens"
	if want S4; then run_logins "$round"; fi
	if want S5; then run_refresh "$round"; fi
	record_peak_rss "$round"
	if want S6; then run_flood "$round" "$viewer"; fi
	if want S7; then run_forged "$round" "$viewer"; fi
	stop_server
	if want bcrypt; then run_bcrypt_bench "$round"; fi
}

# ------------------------------------------------- round-trip budget (S2)

# pg_db_counters prints the database's transactions and sessions
# (pg_stat_database), read from another database so that reading them adds
# to neither.
pg_db_counters() {
	psql_q -d postgres -c "SELECT json_build_object('xacts', xact_commit + xact_rollback, 'sessions', sessions)
		FROM pg_stat_database WHERE datname = '$DB_NAME'"
}

# pg_table_counters prints table scans and rows written, summed over the
# database's tables (pg_stat_user_tables: only readable from inside it).
pg_table_counters() {
	psql_q -d "$DB_NAME" -c "SELECT json_build_object(
		'scans', coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0),
		'projects_scans', coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)) FILTER (WHERE relname = 'projects'), 0),
		'writes', coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0),
		'by_table', coalesce(json_object_agg(relname, coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), '{}')) FROM pg_stat_user_tables"
}

# pg_settled waits for the database's counters to stop moving: a backend
# publishes them up to 10 s after it goes idle. The server's own background
# reads (the revocation marks, every 2 s) keep them moving a little, so
# after a few tries it goes on anyway.
pg_settled() {
	local prev now
	sleep 11
	now=$(pg_db_counters)
	for _ in $(seq 4); do
		sleep 2
		prev=$now now=$(pg_db_counters)
		if [ "$now" = "$prev" ]; then break; fi
	done
}

# pg_stat_statements gives exact statement counts when the server preloads
# it (it cannot be turned on without a restart, which this script never does).
have_pgss() {
	psql_q -d postgres -c "SHOW shared_preload_libraries" | grep -q pg_stat_statements &&
		psql_q -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1
}
pgss_calls() {
	psql_q -d "$DB_NAME" -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$DB_NAME') AND query NOT ILIKE '%pg_stat_statements%'"
}

# fire N URL TOKEN sends exactly N requests, 8 at a time over kept-alive
# connections, and prints how many were not 200.
fire() {
	local n=$1 url=$2 token=$3 cfg=$WORK/curl.cfg
	for _ in $(seq "$n"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done >"$cfg"
	curl -s --no-progress-meter --parallel --parallel-max 8 -H "Authorization: Bearer $token" -K "$cfg" \
		-w '%{http_code}\n' | grep -vc '^200$' || true
}

# run_budget counts what one S2 request costs, over exactly BUDGET_REQUESTS
# requests on a warm server:
#   Redis: every command this script's DB index receives, from MONITOR (so
#     other users of the shared server do not count); EVALSHA separately,
#     and the commands the limiter's script runs inside Redis.
#   PostgreSQL: table scans over all tables (exact: a query reads at least
#     one table; autovacuum does not count here), rows written (want 0),
#     new sessions (want 0) and transactions — each autocommit statement is
#     one, but so are pgx's "-- ping" of a pooled connection idle for over a
#     second (once per connection after the settling wait, never under
#     load) and autovacuum's once-a-minute visit to the database, so that
#     figure is an upper bound. pg_stat_statements, when preloaded, gives
#     the exact statement count instead.
run_budget() {
	local token db0 db1 t0 t1 bad mon=$WORK/monitor.txt pgss=null c0 c1
	say "round-trip budget of S2: $BUDGET_REQUESTS requests"
	start_server
	token=$(login "$VIEWER_EMAIL" | jq -r .accessToken)
	fire 200 "$API/projects" "$token" >/dev/null # fill the pools, prepare the statements
	say "waiting for PostgreSQL's statistics to settle"
	pg_settled
	# Reading the table counters is a session in the database: let its own
	# transactions land before the database's counters are read.
	t0=$(pg_table_counters)
	if have_pgss; then c0=$(pgss_calls); fi
	sleep 1
	db0=$(pg_db_counters)
	redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" monitor >"$mon" &
	MONITOR_PID=$!
	sleep 0.5
	bad=$(fire "$BUDGET_REQUESTS" "$API/projects" "$token")
	sleep 0.5
	kill "$MONITOR_PID" 2>/dev/null && wait "$MONITOR_PID" 2>/dev/null || true
	MONITOR_PID=""
	pg_settled
	db1=$(pg_db_counters)
	t1=$(pg_table_counters)
	if [ -n "${c0:-}" ]; then c1=$(pgss_calls) && pgss=$((c1 - c0)); fi
	stop_server
	local calls evalsha in_script by_name
	calls=$(grep -c "^[0-9.]* \[$BENCH_REDIS_DB [0-9]" "$mon" || true)
	evalsha=$(grep -ic "^[0-9.]* \[$BENCH_REDIS_DB [0-9][^]]*\] \"evalsha\"" "$mon" || true)
	in_script=$(grep -c "^[0-9.]* \[$BENCH_REDIS_DB lua\]" "$mon" || true)
	# Every command name the clients sent, with its count, e.g. {"evalsha": 2000}.
	by_name=$(grep "^[0-9.]* \[$BENCH_REDIS_DB [0-9]" "$mon" | awk '{print tolower($4)}' | tr -d '"' | sort | uniq -c |
		jq -Rn '[inputs | capture("(?<n>[0-9]+) (?<c>.+)") | {(.c): (.n | tonumber)}] | add // {}')
	record budget S2-roundtrips "per GET /projects request ($BUDGET_REQUESTS requests, $bad not 200)" 8 "$(jq -nc \
		--argjson n "$BUDGET_REQUESTS" --argjson calls "$calls" --argjson evalsha "$evalsha" --argjson lua "$in_script" --argjson by_name "$by_name" \
		--argjson a "$(jq -nc --argjson x "$db0" --argjson y "$t0" '$x + $y')" \
		--argjson b "$(jq -nc --argjson x "$db1" --argjson y "$t1" '$x + $y')" --argjson pgss "$pgss" \
		'def per: . / $n * 1000 | round / 1000;
		 {requests: $n,
		  redis_round_trips_per_req: ($calls | per), redis_evalsha_per_req: ($evalsha | per),
		  redis_commands_inside_script_per_req: ($lua | per), redis_commands_by_name: $by_name,
		  pg_table_scans_per_req: ($b.scans - $a.scans | per), pg_projects_scans_per_req: ($b.projects_scans - $a.projects_scans | per),
		  pg_other_tables_scans: ([$b.by_table | to_entries[] | select(.key != "projects")
		    | {(.key): (.value - ($a.by_table[.key] // 0))} | select(.[] > 0)] | add // {}),
		  pg_rows_written: ($b.writes - $a.writes), pg_new_sessions: ($b.sessions - $a.sessions),
		  pg_transactions_per_req_upper_bound: ($b.xacts - $a.xacts | per),
		  pg_statements_per_req_exact: (if $pgss == null then null else $pgss | per end)}')"
}

# -------------------------------------------------------------- profiles

# One more pass of S1–S3 with PPROF_ADDR set: a 10 s CPU profile and a 10 s
# allocation profile in the middle of each 15 s run. Its figures are marked
# round "profile" and left out of the medians (profiling costs a few %).
run_profiles() {
	local viewer id path auth pprof=http://127.0.0.1:$PPROF_PORT/debug/pprof
	local secs=$((DURATION - 4 < 10 ? DURATION - 4 : 10))
	((secs >= 1)) || die "DURATION is too short to profile"
	say "profiled pass of S1–S3 (profiles in $OUT/profiles)"
	start_server pprof
	WATCH_PID=$SERVER_PID
	viewer=$(login "$VIEWER_EMAIL" | jq -r .accessToken)
	for id in S1 S2 S3; do
		case $id in
		S1) path=/public/status auth=() ;;
		S2) path=/projects auth=(-H "Authorization: Bearer $viewer") ;;
		S3) path=/auth/me auth=(-H "Authorization: Bearer $viewer") ;;
		esac
		wrk_json "$CONNS" "$WARMUP" report.lua "$API$path" "${auth[@]}" >/dev/null
		measured "$CONNS" "$DURATION" report.lua "$API$path" "${auth[@]}" >"$WORK/profiled.json" &
		local wrk_pid=$!
		sleep 2
		curl -fsS -o "$OUT/profiles/$id.cpu.pprof" "$pprof/profile?seconds=$secs" &
		curl -fsS -o "$OUT/profiles/$id.allocs.pprof" "$pprof/allocs?seconds=$secs"
		wait $!
		wait "$wrk_pid"
		record profile "$id" "GET $path (profiled)" "$CONNS" "$(cat "$WORK/profiled.json")" >/dev/null
		go tool pprof -top -nodecount=30 "$WORK/apisec" "$OUT/profiles/$id.cpu.pprof" >"$OUT/profiles/$id.cpu.top.txt" 2>/dev/null
		go tool pprof -top -cum -nodecount=100000 "$WORK/apisec" "$OUT/profiles/$id.cpu.pprof" >"$OUT/profiles/$id.cpu.cum.txt" 2>/dev/null
		go tool pprof -top -nodecount=30 -sample_index=alloc_space "$WORK/apisec" "$OUT/profiles/$id.allocs.pprof" >"$OUT/profiles/$id.alloc_space.top.txt" 2>/dev/null
		go tool pprof -top -nodecount=30 -sample_index=alloc_objects "$WORK/apisec" "$OUT/profiles/$id.allocs.pprof" >"$OUT/profiles/$id.alloc_objects.top.txt" 2>/dev/null
	done
	stop_server
	cp "$WORK/apisec" "$OUT/profiles/apisec.bin" # the profiles' symbols
}

# --------------------------------------------------------------- summary

# cost_centres prints, for S1–S3, the cumulative share of a few functions
# that stand for the request's main costs: the first function whose name
# starts with the given one (closures are numbered, e.g. RequireAuth.func29).
cost_centres() {
	local centres=(
		"HTTP: read request|net/http.(*conn).readRequest"
		"HTTP: write responses to clients|net/http.checkConnErrorWriter.Write"
		"rate limiter (Redis decision)|apisec/app/ratelimit.(*Limiter).Take"
		"access-token check|apisec/routes.New.RequireAuth.func"
		"GORM query, total|gorm.io/gorm.(*processor).Execute"
		"  GORM reflective scan|gorm.io/gorm.Scan"
		"  GORM logger|apisec/db.quietLogger.Trace"
		"  database/sql + pgx|database/sql.(*DB).QueryContext"
		"JSON encoding|encoding/json.Marshal"
		"socket writes (clients, Redis, PG)|net.(*conn).Write"
		"socket reads (clients, Redis, PG)|net.(*conn).Read"
		"allocation (mallocgc)|runtime.mallocgc"
		"GC background marking|runtime.gcBgMarkWorker"
	)
	printf '%-34s %7s %7s %7s\n' "" S1 S2 S3
	local c label fn id pct row
	for c in "${centres[@]}"; do
		label=${c%%|*} fn=${c#*|} row=""
		for id in S1 S2 S3; do
			pct=$(awk -v fn="$fn" 'index($6, fn) == 1 {print $5; exit}' "$OUT/profiles/$id.cpu.cum.txt")
			row+=$(printf ' %7s' "${pct:--}")
		done
		printf '%-34s%s\n' "$label" "$row"
	done
}

print_summary() {
	local r=$OUT/results.jsonl
	echo
	echo "== medians of $ROUNDS round(s); non-2xx summed over rounds; server LOG_LEVEL=warn (request logs off), APP_ENV=production, BCRYPT_COST=12, limits $BENCH_RATE"
	jq -rs -f "$BENCH/summary.jq" "$r"
	echo
	echo "== load average at each round's start"
	jq -rs '[.[] | select(.round != "budget" and .round != "profile")] | group_by(.round)[] | "round \(.[0].round): \(.[0].loadavg)"' "$r"
	local b
	b=$(jq -c 'select(.scenario == "S2-roundtrips")' "$r")
	if [ -n "$b" ]; then
		echo
		echo "== round-trip budget of S2 (want exactly 1 Redis round trip and 1 PostgreSQL statement per request)"
		jq -r '"Redis: \(.redis_round_trips_per_req) round trips/req (EVALSHA \(.redis_evalsha_per_req)/req; inside the script \(.redis_commands_inside_script_per_req) commands/req; all: \(.redis_commands_by_name | tojson))",
		       "PostgreSQL: \(.pg_projects_scans_per_req) scans of projects/req (the query), \(.pg_table_scans_per_req) of all tables/req; other tables, in all: \(.pg_other_tables_scans | tojson) (background reads of the server, e.g. revocation marks every 2 s); \(.pg_rows_written) rows written, \(.pg_new_sessions) new sessions",
		       "            transactions/req \(.pg_transactions_per_req_upper_bound) (upper bound: includes background reads, idle-connection pings and autovacuum visits)" +
		       (if .pg_statements_per_req_exact == null then "; pg_stat_statements not preloaded" else "; statements/req (pg_stat_statements) \(.pg_statements_per_req_exact)" end)' <<<"$b"
	fi
	if [ "$PROFILE" = 1 ]; then
		echo
		echo "== where the API's CPU goes (cumulative % of profile samples; full lists in $OUT/profiles/)"
		cost_centres
	fi
	echo
	echo "JSON lines: $r"
}

main() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	ensure_tools
	start_services
	prepare
	say "server: APP_ENV=production LOG_LEVEL=warn (request logs are info: not written) BCRYPT_COST=12 rate limits $BENCH_RATE"
	start_server
	seed_projects
	stop_server
	if want budget; then run_budget; fi
	for round in $(seq "$ROUNDS"); do
		run_round "$round"
	done
	[ "$PROFILE" = 1 ] && run_profiles
	print_summary
}

main "$@"
