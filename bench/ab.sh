#!/usr/bin/env bash
# bench/ab.sh — compare builds of the API under the same load, interleaved.
#
#   bash bench/ab.sh base=. patched=/tmp/perf
#   bash bench/ab.sh pool20=. pool8=.:DB_MAX_OPEN_CONNS=8,DB_MAX_IDLE_CONNS=8
#   SCEN="S2" K=8 bash bench/ab.sh a=. b=../other-checkout@GOEXPERIMENT=foo
#   SCEN="S2 S3" bash bench/ab.sh on=git:HEAD off=git:HEAD+/tmp/feature-off.patch
#   HEADERS="Origin: https://app.example" bash bench/ab.sh cors=.:CORS_ALLOWED_ORIGINS=https://app.example nocors=.
#
# Each argument is LABEL=SOURCE[:ENV=V,…][@ENV=V,…]: a source to build, then
# environment for that server (after ':') and for its build (after '@'). A
# source is a directory (built as it is, uncommitted edits included) or
# git:REV[+PATCH], a revision of this repository exported with git archive,
# with PATCH applied on top when given (a feature with no switch is A/B'd as
# a patch that turns it off). All servers run at once on one database and one Redis DB, and short
# wrk runs (SECS, default 5 s) alternate between them K times (default 6) per
# scenario, in alternating order, so drift in the machine's load (other
# builds and tests share it) falls on every variant alike. Sequential runs of
# bench/run.sh drift by ±15 % over minutes here; this does not.
#
# Every server runs as production would, with all of its features on: metrics
# too, each on its own METRICS_ADDR (a variant's METRICS_ADDR= turns it off).
#
# Scenarios (SCEN): S1 GET /public/status, S2 GET /projects, S3 GET
# /auth/me, S7 GET /projects with a wrong-signature token (verified, charged
# to the IP's global budget, 401). HEADERS: extra request headers, one per
# line, sent in every scenario (e.g. an Origin for CORS).
#
# Prints per scenario and variant the median req/s, server CPU µs per request
# and p99, with the CPU range, and for every variant after the first the
# median of its per-round ratios to the first (req/s and CPU/request; a
# round is one run of each variant, back to back); raw lines go to
# bench/out/ab.jsonl. Each server
# keeps up to 20 PostgreSQL connections: more than three variants may exhaust
# PostgreSQL's default max_connections of 100.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
export PATH="$PATH:/usr/local/go/bin"
K=${K:-6} SECS=${SECS:-5} SCEN=${SCEN:-"S1 S2 S3"} CONNS=${CONNS:-64}
BENCH_REDIS_DB=${BENCH_REDIS_DB:-12}
BENCH_RATE=${BENCH_RATE:-1000000/1s}
PASSWORD='Bench-Passw0rd-2024'
CLK_TCK=$(getconf CLK_TCK)

HEADERS=${HEADERS:-}
LABELS=() DIRS=() SERVER_ENV=() BUILD_ENV=() PIDS=() PORTS=() METRICS_PORTS=()
WORK="" DB_NAME=""

die() { printf 'ab: %s\n' "$*" >&2; exit 1; }
psql_q() { psql -h 127.0.0.1 -U postgres -X -q -tA -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
	local status=$? pid
	set +e
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	[ -n "$DB_NAME" ] && psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1
	if [ -n "$WORK" ]; then
		redis-cli -n "$BENCH_REDIS_DB" --scan --pattern 'rl:*' | xargs -r -n 500 redis-cli -n "$BENCH_REDIS_DB" del >/dev/null
		rm -rf "$WORK"
	fi
	exit "$status"
}

free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

parse_args() {
	local spec label rest benv senv git
	(($# >= 2)) || die "usage: bench/ab.sh LABEL=DIR[:ENV=V,…][@ENV=V,…] LABEL=DIR…"
	(($# <= 3)) || echo "ab: more than three variants may exhaust PostgreSQL's connections" >&2
	for spec in "$@"; do
		[[ $spec == *=* ]] || die "not LABEL=DIR: $spec"
		label=${spec%%=*} rest=${spec#*=} benv="" senv=""
		git="" # git:REV: its colon is not the environment's
		if [[ $rest == git:* ]]; then git=git: rest=${rest#git:}; fi
		if [[ $rest == *@* ]]; then benv=${rest#*@} rest=${rest%%@*}; fi
		if [[ $rest == *:* ]]; then senv=${rest#*:} rest=${rest%%:*}; fi
		if [ -n "$git" ]; then
			DIRS+=("git:$rest")
		else
			DIRS+=("$(cd "$rest" && pwd)")
		fi
		LABELS+=("$label") SERVER_ENV+=("$senv") BUILD_ENV+=("$benv")
	done
}

# common_env prints the settings every server shares, one per line.
common_env() {
	printf '%s\n' APP_ENV=production LOG_LEVEL=warn BCRYPT_COST=12 \
		"DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB_NAME?sslmode=disable" \
		"REDIS_URL=redis://127.0.0.1:6379/$BENCH_REDIS_DB" \
		"JWT_PRIVATE_KEY_PATH=$WORK/keys/jwt-private.pem" "JWT_PUBLIC_KEY_PATH=$WORK/keys/jwt-public.pem" \
		"RATE_LIMIT_GLOBAL=$BENCH_RATE" "RATE_LIMIT_LOGIN=$BENCH_RATE" "RATE_LIMIT_AUTHENTICATED=$BENCH_RATE"
}

# bin_cmd I sets CMD: variant I's binary with the common settings and its
# own, to run in the work folder.
bin_cmd() {
	local i=$1 env extra=()
	mapfile -t env < <(common_env)
	if [ -n "${SERVER_ENV[$i]}" ]; then IFS=, read -ra extra <<<"${SERVER_ENV[$i]}"; fi
	# Metrics on, each on its own port, unless a variant's METRICS_ADDR= says off.
	CMD=(env -i PATH="$PATH" HOME="$WORK" "${env[@]}" PORT="${PORTS[i]:-8080}"
		${METRICS_PORTS[i]:+METRICS_ADDR=127.0.0.1:${METRICS_PORTS[i]}} "${extra[@]}" "$WORK/bin$i")
}

run_bin() { # I ARGS…
	bin_cmd "$1"
	shift
	(cd "$WORK" && exec "${CMD[@]}" "$@")
}

# export_rev I replaces DIRS[I], git:REV[+PATCH], with a folder holding
# that revision of this repository, PATCH applied.
export_rev() {
	local i=$1 spec=${DIRS[$1]#git:} rev patch="" dir=$WORK/src$1
	rev=${spec%%+*}
	if [[ $spec == *+* ]]; then patch=$(cd "$(dirname "${spec#*+}")" && pwd)/$(basename "${spec#*+}"); fi
	mkdir -p "$dir"
	git -C "$ROOT" archive "$rev" | tar -x -C "$dir" || die "no revision $rev"
	if [ -n "$patch" ]; then (cd "$dir" && git apply "$patch") || die "$patch does not apply to $rev"; fi
	DIRS[i]=$dir
}

setup() {
	local i benv=()
	WORK=$(mktemp -d /tmp/apisec-ab.XXXXXX)
	DB_NAME=apisec_ab_$$
	psql_q -d postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
	for i in "${!LABELS[@]}"; do
		benv=()
		if [ -n "${BUILD_ENV[$i]}" ]; then IFS=, read -ra benv <<<"${BUILD_ENV[$i]}"; fi
		echo "building ${LABELS[$i]} from ${DIRS[$i]} ${BUILD_ENV[$i]}" >&2
		if [[ ${DIRS[$i]} == git:* ]]; then export_rev "$i"; fi
		(cd "${DIRS[$i]}" && env "${benv[@]}" go build -o "$WORK/bin$i" .)
	done
	"$WORK/bin0" keys generate --dir "$WORK/keys" >/dev/null
	run_bin 0 migrate up >/dev/null
	run_bin 0 users create --email admin@ab.example --password "$PASSWORD" --role admin --verified >/dev/null
	run_bin 0 users create --email viewer@ab.example --password "$PASSWORD" --role viewer --verified >/dev/null
	for i in "${!LABELS[@]}"; do
		PORTS[i]=$(free_port $((18600 + 10 * i)))
		METRICS_PORTS[i]=$(free_port $((PORTS[i] + 1)))
		bin_cmd "$i"
		(cd "$WORK" && exec "${CMD[@]}" serve) >"$WORK/server$i.log" 2>&1 &
		PIDS[i]=$!
	done
	for i in "${!LABELS[@]}"; do
		for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:${PORTS[i]}/healthz" && continue 2; sleep 0.2; done
		cat "$WORK/server$i.log" >&2
		die "${LABELS[$i]} did not start"
	done
	local admin n
	admin=$(login admin)
	VIEWER=$(login viewer)
	# A wrong signature: one character in its middle changed (the last one
	# may carry only padding bits).
	local c=${VIEWER:${#VIEWER}-20:1}
	[ "$c" = A ] && c=B || c=A
	FORGED=${VIEWER:0:${#VIEWER}-20}$c${VIEWER:${#VIEWER}-19}
	for n in $(seq -w 1 20); do
		curl -fsS -o /dev/null "http://127.0.0.1:${PORTS[0]}/projects" -H "Authorization: Bearer $admin" \
			-H 'Content-Type: application/json' -d "{\"name\":\"Project $n\",\"description\":\"Seeded by bench/ab.sh: project $n.\"}"
	done
}

login() {
	curl -fsS "http://127.0.0.1:${PORTS[0]}/auth/login" -H 'Content-Type: application/json' \
		-d "{\"email\":\"$1@ab.example\",\"password\":\"$PASSWORD\"}" | jq -r .accessToken
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# one I SCENARIO SECONDS prints one JSON line.
one() {
	local i=$1 path auth=() json=$WORK/wrk.json t0 t1 h
	case $2 in
	S1) path=/public/status ;;
	S2) path=/projects auth=(-H "Authorization: Bearer $VIEWER") ;;
	S3) path=/auth/me auth=(-H "Authorization: Bearer $VIEWER") ;;
	S7) path=/projects auth=(-H "Authorization: Bearer $FORGED") ;;
	*) die "unknown scenario $2 (S1, S2, S3, S7)" ;;
	esac
	while IFS= read -r h; do [ -z "$h" ] || auth+=(-H "$h"); done <<<"$HEADERS"
	t0=$(ticks "${PIDS[i]}")
	BENCH_WRK_DIR=$BENCH/wrk BENCH_JSON=$json wrk -t1 -c"$CONNS" -d"${3}s" --timeout 10s --latency \
		-s "$BENCH/wrk/report.lua" "${auth[@]}" "http://127.0.0.1:${PORTS[i]}$path" >/dev/null
	t1=$(ticks "${PIDS[i]}")
	jq -c --arg l "${LABELS[$i]}" --arg s "$2" --argjson t $((t1 - t0)) --argjson hz "$CLK_TCK" --argjson k "${ROUND:-0}" \
		--arg load "$(cut -d' ' -f1 /proc/loadavg)" \
		'{label: $l, scenario: $s, round: $k, rps, p99_ms, non2xx, socket_errors,
		  server_cpu_us_per_req: ($t / $hz * 1e6 / .requests | round), loadavg: $load}' "$json"
}

main() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	parse_args "$@"
	setup
	mkdir -p "$BENCH/out"
	local out=$BENCH/out/ab.jsonl s k i order
	: >"$out"
	for s in $SCEN; do
		ROUND=0
		for i in "${!LABELS[@]}"; do one "$i" "$s" 3 >/dev/null; done # warm-up
		for k in $(seq "$K"); do
			ROUND=$k
			order=("${!LABELS[@]}")
			((k % 2 == 0)) && mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
			for i in "${order[@]}"; do one "$i" "$s" "$SECS" | tee -a "$out" >&2; done
		done
	done
	echo
	jq -rs 'def med: sort | .[length / 2 | floor];
		group_by(.scenario)[] | group_by(.label)[] |
		"\(.[0].scenario) \(.[0].label | . + " " * ([12 - length, 0] | max)) \(map(.rps) | med | round | tostring | " " * (7 - length) + .) req/s  \(map(.server_cpu_us_per_req) | med) µs CPU/req (\(map(.server_cpu_us_per_req) | min)–\(map(.server_cpu_us_per_req) | max))  p99 \(map(.p99_ms) | med) ms  non-2xx \(map(.non2xx) | add)"' "$out"
	echo
	# Per round, each variant against the first: the ratios of runs seconds
	# apart, then their median (the figure to quote).
	jq -rs --arg base "${LABELS[0]}" 'def med: sort | if length % 2 == 1 then .[(length - 1) / 2] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def r2: . * 1000 | round / 1000;
		group_by(.scenario)[] | . as $runs | (map(.label) | unique - [$base])[] as $l
		| [$runs[] | select(.label == $base)] as $b
		| [$runs[] | select(.label == $l) | . as $x | ($b[] | select(.round == $x.round)) as $y
		   | {rps: ($x.rps / $y.rps), cpu: ($x.server_cpu_us_per_req / $y.server_cpu_us_per_req)}] as $r
		| "\($runs[0].scenario) \($l) ÷ \($base): req/s \($r | map(.rps) | med | r2) (rounds \($r | map(.rps | r2) | join(" ")))  CPU/req \($r | map(.cpu) | med | r2)"' "$out"
	for i in "${!LABELS[@]}"; do
		echo "${LABELS[$i]}: peak RSS $(awk '/^VmHWM/ {printf "%.1f MB", $2 / 1024}' "/proc/${PIDS[i]}/status")"
	done
	echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
}

main "$@"
