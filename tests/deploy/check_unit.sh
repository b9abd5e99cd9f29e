#!/usr/bin/env bash
# The shipped unit file passes `systemd-analyze verify` without a word, and its
# offline exposure score stays at or below MAX_EXPOSURE (x10: 11 = 1.1, the
# score of systemd 252 today: loosening the sandbox must change this on purpose).
#
#   check_unit.sh UNIT TAGPURGE_BINARY
#
# verify checks that ExecStart= is executable on this host, and /usr/bin/tagpurge
# usually is not: verify a copy whose ExecStart= runs the built binary instead.
# Unknown keys and bad values only warn (exit 0), so any output is a failure.
# Exit 77 (skipped) without systemd-analyze (apt-get install systemd).
set -euo pipefail
unit=$1 bin=$2
MAX_EXPOSURE=${MAX_EXPOSURE:-11}

command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy=$tmp/$(basename "$unit")
sed "s|^ExecStart=/usr/bin/tagpurge |ExecStart=$bin |" "$unit" >"$copy"
if ! grep -q "^ExecStart=$bin " "$copy"; then
  echo "FAIL: no 'ExecStart=/usr/bin/tagpurge ' line to check in $unit"; exit 1
fi

out=$(systemd-analyze verify "$copy" 2>&1) || { echo "$out"; echo "FAIL: verify exited non-zero"; exit 1; }
if [ -n "$out" ]; then
  echo "$out"; echo "FAIL: systemd-analyze verify printed the above"; exit 1
fi
echo "verify: clean"

if ! systemd-analyze security --offline=yes --threshold="$MAX_EXPOSURE" "$copy" >"$tmp/security" 2>&1; then
  grep -v '✓' "$tmp/security"
  echo "FAIL: exposure above $MAX_EXPOSURE/10 (or security failed)"; exit 1
fi
tail -n 1 "$tmp/security"
