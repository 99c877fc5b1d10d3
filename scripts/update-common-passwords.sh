#!/usr/bin/env bash
# Regenerates app/passwords/common-passwords.txt (and its licence) from a
# pinned npm package, so the embedded breach list can be audited and updated.
#
# The list is the "passwords" dictionary of @zxcvbn-ts/language-common: the
# passwords of Mark Burnett's ten-million-password breach corpus, ranked by
# frequency. We keep the first LIMIT entries, lowercased and deduplicated,
# most common first, one per line.
#
# To update: bump VERSION, run with INTEGRITY="" to print the new tarball's
# integrity, check the diff, then pin the printed value here and record it in
# app/passwords/common-passwords.SOURCE.md.
set -euo pipefail

PKG="@zxcvbn-ts/language-common"
VERSION="${VERSION:-4.1.3}"
INTEGRITY="${INTEGRITY-sha512-g2bg4skmlJG9aJqC/nWziZzgYpSe/f3rKeGobrkdFiOrfZVFqqzUgC6BUQWuX54Sua9j0Jxxt+1bf4f/Mal1Kg==}"
LIMIT="${LIMIT:-30000}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/app/passwords/common-passwords.txt"
licence="$root/app/passwords/common-passwords.LICENSE"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

tarball="$(cd "$tmp" && npm pack --silent "$PKG@$VERSION")"

actual="$(node -e '
const fs = require("fs"), crypto = require("crypto");
process.stdout.write("sha512-" + crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));
' "$tmp/$tarball")"
if [[ -n "$INTEGRITY" && "$actual" != "$INTEGRITY" ]]; then
	echo "integrity mismatch for $PKG@$VERSION: got $actual, want $INTEGRITY" >&2
	exit 1
fi
echo "integrity: $actual" >&2

tar -xzf "$tmp/$tarball" -C "$tmp" package/src/passwords.json package/LICENSE.txt

node -e '
const fs = require("fs");
const [src, dst, limit] = process.argv.slice(1);
const seen = new Set(), out = [];
for (const raw of JSON.parse(fs.readFileSync(src, "utf8"))) {
  const pw = String(raw).toLowerCase();
  // One entry per line: anything with whitespace or control characters
  // could not round-trip, and such passwords fail validation anyway.
  if (pw === "" || /[\s\x00-\x1f\x7f]/.test(pw) || seen.has(pw)) continue;
  seen.add(pw);
  out.push(pw);
  if (out.length === Number(limit)) break;
}
fs.writeFileSync(dst, out.join("\n") + "\n");
console.error(`wrote ${out.length} entries to ${dst}`);
' "$tmp/package/src/passwords.json" "$out" "$LIMIT"

cp "$tmp/package/LICENSE.txt" "$licence"
sha256sum "$out" | sed "s|$root/||" >&2
