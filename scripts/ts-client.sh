#!/usr/bin/env bash
# Generates the TypeScript client from api/openapi.yaml (openapi-typescript +
# openapi-fetch), type-checks and compiles its flow with tsc, and runs it with
# Node against a fresh development server: the embedded default (SQLite,
# in-process limits, keys made on first run) in a temporary directory, on a
# free loopback port. The server is stopped and the directory removed after.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

(cd "$root/clients/ts" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error && npm run --silent build)
go build -o "$work/apisec" "$root"

port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
# Nothing of the caller's environment (DATABASE_URL, REDIS_URL, ...) reaches
# the server or the CLI that the flow runs: the defaults are what is tested,
# but for the lowest bcrypt cost development accepts (a shared CI machine).
run=(env -i PATH="$PATH" HOME="$HOME" APP_ENV=development HOST=127.0.0.1 PORT="$port" BCRYPT_COST=10)
cd "$work"
"${run[@]}" ./apisec serve >server.log 2>&1 &
pid=$!
if ! "${run[@]}" APISEC_URL="http://127.0.0.1:$port" APISEC_BIN="$work/apisec" node "$root/clients/ts/dist/flow.js"; then
	echo "--- server log" >&2
	tail -n 40 server.log >&2
	exit 1
fi
