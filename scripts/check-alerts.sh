#!/usr/bin/env bash
# Checks the alert rules of docs/operations.md with promtool (Debian's
# prometheus package has it: apt-get install --no-install-recommends prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."
rules=$(mktemp --suffix=.yml)
trap 'rm -f "$rules"' EXIT
awk '/^## Alert rules/{f=1} f&&/^```yaml/{p=1;next} p&&/^```/{exit} p' docs/operations.md >"$rules"
promtool check rules "$rules"
