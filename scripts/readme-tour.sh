#!/usr/bin/env bash
# Runs the README's tour: every ```sh block between "<!-- tour" and
# "<!-- /tour -->" markers (there may be several pairs), in order, in one
# bash shell, against a fresh development server (the embedded default, as
# `go run .` starts it) in a temporary directory on a free loopback port. The
# blocks run as written but for two substitutions: localhost:8080 becomes
# that port, and `go run .` the built binary, run in the server's directory
# (same SQLite file). A curl that gets an HTTP error fails the run (unless it
# prints the status itself with -w), as does any failing command; the end
# checks what the tour claims. Needs go, curl (7.76+) and jq.
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

go build -o "$work/apisec" "$root"
# A free loopback port, with bash alone: one nothing answers on.
for _ in $(seq 50); do
	port=$((20000 + RANDOM % 40000))
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done

tour=$(awk '
	/^<!-- tour/ { on = 1; next }
	/^<!-- \/tour -->/ { on = 0 }
	on && /^```sh$/ { code = 1; next }
	on && /^```$/ { code = 0; next }
	on && code
' "$root/README.md")
if [ "$(grep -c . <<<"$tour")" -lt 10 ]; then
	echo "readme-tour: no tour found between the markers in README.md" >&2
	exit 1
fi
tour=${tour//localhost:8080/127.0.0.1:$port}
tour=${tour//go run ./\"$work/apisec\"}

# Nothing of the caller's environment (DATABASE_URL, REDIS_URL, ...) reaches
# the server or the CLI: the defaults are what the README promises.
run=(env -i PATH="$PATH" HOME="$HOME" PORT="$port")
cd "$work"
"${run[@]}" ./apisec serve >server.log 2>&1 &
pid=$!
for _ in $(seq 100); do
	curl -sf "127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done

script=$(cat <<SCRIPT
set -euo pipefail
curl() {
	case " \$* " in
	*" -w "*) command curl "\$@" ;;
	*) command curl --fail-with-body "\$@" ;;
	esac
}
$tour
# What the tour claims, checked: the patch took, the session is over.
test "\$(command curl -s 127.0.0.1:$port/projects/\$ID -H "Authorization: Bearer \$ACCESS" -o /dev/null -w '%{http_code}')" = 401
test "\$(command curl -s 127.0.0.1:$port/auth/refresh -H "Content-Type: application/json" -d "{\"refreshToken\":\"\$REFRESH\"}" -o /dev/null -w '%{http_code}')" = 401
SCRIPT
)
if ! "${run[@]}" bash -c "$script"; then
	echo "readme-tour: the tour failed; server log:" >&2
	tail -n 40 server.log >&2
	exit 1
fi
echo "readme-tour: ok"
