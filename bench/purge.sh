#!/usr/bin/env bash
# bench/purge.sh — what the retention purge costs on PostgreSQL, with a
# refresh_tokens table of a million rows. Not run in CI (~15 minutes):
#
#   bash bench/purge.sh
#   ROWS=200000 LOAD_SECONDS=10 bash bench/purge.sh   # smaller
#
# It builds the API, creates its own database apisec_purge_<pid> (dropped at
# the end, also on failure) and uses Redis DB 12, seeds ROWS refresh tokens
# spread over 1,000 users (90 % past their expiry, the backlog a first purge
# meets), then measures:
#   index  building refresh_tokens_expires_at_idx (migration 00006) on them;
#   alone  `apisec purge` with no other load;
#   base   POST /auth/refresh under wrk (1 thread, 16 connections, each token
#          spent once, bench/wrk/refresh.lua as in bench/run.sh S5, over
#          1,000 minted sessions of the seeded users) for LOAD_SECONDS;
#   purge  the same refresh load while `apisec purge` runs on a freshly
#          seeded backlog (wrk is stopped when the purge ends);
#   naive  the same load during one unbatched DELETE of the same backlog,
#          for comparison.
# Beside each load, a probe does what a logout-all or password change does to
# one seeded user's sessions (an UPDATE of all their unrevoked refresh tokens,
# expired ones included) every 100 ms and records how long each took.
# Figures of two runs on the 2-core development machine, 2026-12-03, with a
# load average of 13-23 from other sessions' builds and tests (the second run
# also overlapped this project's test suite), so runs without a purge differ
# by up to 2.8x: compare within that spread. run 1 | run 2:
#   index build, 1,000,000 rows            2.5 s | 0.9 s (writes to refresh_tokens wait meanwhile)
#   purge alone, 900,000 expired rows     39.6 s | 55.8 s (900 batches of 1,000, 10 ms pauses)
#   purge under the refresh load          68.5 s | 84.6 s
#   refresh, no purge                     180 req/s p50  82 ms p99 251 ms | 167 req/s p50  86 ms p99 336 ms
#   refresh, during the batched purge     218 req/s p50  63 ms p99 275 ms | 138 req/s p50 108 ms p99 350 ms
#   refresh, during one unbatched DELETE   72 req/s p50 213 ms p99 513 ms | 135 req/s p50 117 ms p99 306 ms (DELETE 8.1 s | 5.4 s)
#   refresh, no purge (again)              83 req/s p50 190 ms p99 469 ms | 229 req/s p50  64 ms p99 225 ms
#   probe (run 2): p99 154 ms, max 226 ms without a purge; p99 164 ms, max 622 ms
#   during the batched purge; max 119 ms during the one DELETE.
# The refresh load never touches an expired row, so it sees only the purge's
# CPU and I/O, which stay within this machine's noise either way.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
OUT=${OUT:-$BENCH/out}
export PATH="$PATH:/usr/local/go/bin"

ROWS=${ROWS:-1000000}
LOAD_SECONDS=${LOAD_SECONDS:-20}
CONNS=${CONNS:-16}
BENCH_REDIS_DB=${BENCH_REDIS_DB:-12}
PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER=postgres
BENCH_RATE=1000000/1s

WORK="" DB_NAME="" SERVER_PID="" WRK_PID="" PROBE_PID=""

say() { printf '· %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
psql_q() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -X -q -tA -v ON_ERROR_STOP=1 "$@"; }
now_ms() { date +%s%3N; }

cleanup() {
	local status=$?
	set +e
	for pid in "$PROBE_PID" "$WRK_PID" "$SERVER_PID"; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	[ -n "$DB_NAME" ] && psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 && say "dropped $DB_NAME"
	if [ -n "$WORK" ]; then
		redis-cli -n "$BENCH_REDIS_DB" --scan --pattern 'rl:*' | xargs -r redis-cli -n "$BENCH_REDIS_DB" del >/dev/null
		rm -rf "$WORK"
	fi
	exit "$status"
}
trap cleanup EXIT

command -v wrk >/dev/null || { say "installing wrk"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
for t in go psql jq curl redis-cli; do command -v "$t" >/dev/null || die "$t is required"; done

WORK=$(mktemp -d /tmp/apisec-purge.XXXXXX)
mkdir -p "$OUT"
: >"$OUT/purge.jsonl"
(cd "$ROOT" && go build -o "$WORK/apisec" .)
DB_NAME=apisec_purge_$$
psql_q -d postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
"$WORK/apisec" keys generate --dir "$WORK/keys" >/dev/null
PORT=18180
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
API=http://127.0.0.1:$PORT

# The binary as production runs it, in the work folder (no .env), never
# purging by itself: this script decides when.
app() {
	(cd "$WORK" && exec env -i PATH="$PATH" HOME="$WORK" APP_ENV=production PORT="$PORT" LOG_LEVEL=warn \
		DATABASE_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB_NAME?sslmode=disable" \
		REDIS_URL="redis://127.0.0.1:6379/$BENCH_REDIS_DB" PURGE_INTERVAL=off \
		JWT_PRIVATE_KEY_PATH="$WORK/keys/jwt-private.pem" JWT_PUBLIC_KEY_PATH="$WORK/keys/jwt-public.pem" \
		RATE_LIMIT_GLOBAL="$BENCH_RATE" RATE_LIMIT_LOGIN="$BENCH_RATE" RATE_LIMIT_AUTHENTICATED="$BENCH_RATE" \
		"$WORK/apisec" "$@")
}

record() { # NAME JSON
	jq -c --arg name "$1" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '{name: $name} + . + {loadavg: $load}' <<<"$2" |
		tee -a "$OUT/purge.jsonl"
}

# seed EXPIRED LIVE adds refresh tokens of 1,000 seeded users: EXPIRED past
# their expiry (a tenth of them revoked, the rest spent), LIVE not.
seed() {
	psql_q -d "$DB_NAME" <<-SQL
		INSERT INTO users (id, email, password_hash, role, plan, email_verified, created_at, updated_at)
		SELECT gen_random_uuid()::text, 'seed' || i || '@bench.example', 'x', 'viewer', 'free', TRUE, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
		FROM generate_series(1, 1000) i ON CONFLICT DO NOTHING;
		CREATE TEMP TABLE seed_users AS SELECT id, row_number() OVER () AS n FROM users WHERE email LIKE 'seed%';
		INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, replaced_at, revoked_at, created_at)
		SELECT gen_random_uuid()::text, u.id, gen_random_uuid()::text, md5(random()::text) || md5(random()::text),
		       t.exp, CASE WHEN i % 10 <> 0 AND i <= $1 THEN t.exp - interval '160 hours' END,
		       CASE WHEN i % 10 = 0 AND i <= $1 THEN t.exp - interval '100 hours' END, t.exp - interval '168 hours'
		FROM generate_series(1, $1 + $2) i
		JOIN seed_users u ON u.n = 1 + i % 1000
		CROSS JOIN LATERAL (SELECT CASE WHEN i <= $1 THEN (now() AT TIME ZONE 'UTC') - (1 + i % 600000) * interval '1 second'
		                                ELSE (now() AT TIME ZONE 'UTC') + interval '1 hour' + (i % 600000) * interval '1 second' END AS exp) t;
		VACUUM ANALYZE refresh_tokens;
	SQL
}

# mint N prints N new refresh tokens of the seeded users, stored as the API
# stores them (SHA-256), so the load needs no logins: each wrk connection
# refreshes its own users' sessions, as real clients do.
mint() {
	psql_q -d "$DB_NAME" <<-SQL
		CREATE TEMP TABLE seed_users AS SELECT id, row_number() OVER () AS n FROM users WHERE email LIKE 'seed%';
		CREATE TEMP TABLE minted AS SELECT md5(random()::text) || md5(random()::text) AS token, u.id AS user_id
		FROM generate_series(1, $1) i JOIN seed_users u ON u.n = 1 + i % 1000;
		INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at)
		SELECT gen_random_uuid()::text, user_id, gen_random_uuid()::text, encode(sha256(convert_to(token, 'UTF8')), 'hex'),
		       (now() AT TIME ZONE 'UTC') + interval '168 hours', now() AT TIME ZONE 'UTC' FROM minted;
		SELECT token FROM minted;
	SQL
}

app migrate up >/dev/null
expired=$((ROWS * 9 / 10))
say "seeding $ROWS refresh tokens ($expired expired)"
seed "$expired" $((ROWS - expired))

say "index build"
t0=$(now_ms)
psql_q -d "$DB_NAME" -c "DROP INDEX refresh_tokens_expires_at_idx" -c "CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at)"
record index "{\"rows\": $ROWS, \"seconds\": $(jq -n "($(now_ms) - $t0) / 1000")}"

# timed_purge prints the JSON of one `apisec purge`: its seconds and counts.
timed_purge() {
	local t0 out
	t0=$(now_ms)
	out=$(app purge)
	jq -nc --arg out "$out" --argjson ms "$(($(now_ms) - t0))" \
		'{seconds: ($ms / 1000), deleted: ($out | split("\n") | map(select(. != "") | split(": ") | {(.[0]): (.[1] | split(" ")[0] | tonumber)}) | add)}'
}

say "purge alone"
record "purge alone" "$(timed_purge)"

app serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "$API/healthz" 2>/dev/null && break; sleep 0.2; done
say "minting 1,000 live refresh tokens for the load"
mint 1000 >"$WORK/tokens"

# The probe: one psql session, an UPDATE as models.RevokeUserRefreshTokens
# makes it (revoked_at stays NULL, so it can repeat), each one timed.
probe_start() {
	local uid
	uid=$(psql_q -d "$DB_NAME" -c "SELECT id FROM users WHERE email = 'seed1@bench.example'")
	for _ in $(seq 3000); do
		echo "UPDATE refresh_tokens SET revoked_at = NULL WHERE user_id = '$uid' AND revoked_at IS NULL;"
		echo '\! sleep 0.1'
	done >"$WORK/probe.sql"
	psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -X -q -d "$DB_NAME" -c '\timing on' -f "$WORK/probe.sql" >"$WORK/probe.out" 2>&1 &
	PROBE_PID=$!
}
probe_stop() { # prints the probe's figures as JSON
	kill "$PROBE_PID" 2>/dev/null || true
	wait "$PROBE_PID" 2>/dev/null || true
	PROBE_PID=""
	awk '/^Time:/ {print $2}' "$WORK/probe.out" | sort -n | awk '{v[NR] = $1}
		END {printf "{\"revokes\": %d, \"revoke_p50_ms\": %.1f, \"revoke_p99_ms\": %.1f, \"revoke_max_ms\": %.1f}", NR, v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1], v[NR]}'
}

# refresh_load SECONDS starts wrk in the background (WRK_PID); its JSON goes
# to $WORK/wrk.json when it ends or gets SIGINT.
refresh_load() {
	BENCH_WRK_DIR=$BENCH/wrk BENCH_JSON=$WORK/wrk.json BENCH_TOKENS_IN=$WORK/tokens BENCH_TOKENS_OUT=$WORK/tokens.left \
		wrk -t1 -c"$CONNS" -d"${1}s" --timeout 10s --latency -s "$BENCH/wrk/refresh.lua" "$API/auth/refresh" >"$WORK/wrk.log" 2>&1 &
	WRK_PID=$!
	probe_start
}
end_load() { # NAME EXTRA_JSON
	local probe
	probe=$(probe_stop)
	kill -INT "$WRK_PID" 2>/dev/null || true
	wait "$WRK_PID" || true
	WRK_PID=""
	mv "$WORK/tokens.left" "$WORK/tokens"
	record "$1" "$(jq -c --argjson extra "$2" --argjson probe "$probe" '. + $extra + $probe' "$WORK/wrk.json")"
}

say "warm-up, then refreshes without a purge"
refresh_load 3 && wait "$WRK_PID" && probe_stop >/dev/null && mv "$WORK/tokens.left" "$WORK/tokens"
refresh_load "$LOAD_SECONDS" && wait "$WRK_PID" || true
end_load "refresh, no purge" '{}'

say "re-seeding the backlog; refreshes during the batched purge"
seed "$expired" 0
refresh_load 600
sleep 1
record "purge under load" "$(timed_purge)"
end_load "refresh, during the batched purge" '{}'

say "re-seeding the backlog; refreshes during one unbatched DELETE"
seed "$expired" 0
refresh_load 600
sleep 1
t0=$(now_ms)
psql_q -d "$DB_NAME" -c "DELETE FROM refresh_tokens WHERE expires_at <= now() AT TIME ZONE 'UTC'"
end_load "refresh, during one unbatched DELETE" "{\"delete_seconds\": $(jq -n "($(now_ms) - $t0) / 1000")}"
say "refreshes without a purge again, for the noise between runs"
refresh_load "$LOAD_SECONDS" && wait "$WRK_PID" || true
end_load "refresh, no purge (again)" '{}'
say "done; JSON lines in $OUT/purge.jsonl"
