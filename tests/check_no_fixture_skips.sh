#!/usr/bin/env bash
# CI check (.ci/run, after tests/run.sh): when ../shared is beside the repository, no case
# labelled `fixtures` (FIXTURE_TEST unit cases, replay.*) may be skipped. A missing or moved
# fixture folder makes those cases exit 77 (skipped); here that is a failure, so a run that
# did not read the fixtures can never look green. It re-runs the label (a few seconds)
# rather than reading LastTest.log, which holds only the last ctest invocation.
#
#   bash tests/check_no_fixture_skips.sh [BUILD_DIR]    # default: build
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build}}
shared=$(cd .. && pwd)/shared

if [ ! -d "$shared" ]; then
  echo "check_no_fixture_skips: no $shared, fixture-backed cases may skip"
  exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# --no-tests=error: a label that matches nothing (renamed, lost) fails too.
rc=0
(cd "$BUILD" && ctest -L fixtures --no-tests=error -j2 --output-on-failure) >"$out" 2>&1 || rc=$?
ran=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: ' "$out" || true)
skipped=$(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*Skipped|Not Run|Disabled)' "$out" || true)
if [ "$rc" != 0 ] || [ -n "$skipped" ] || [ "$ran" = 0 ]; then
  cat "$out"
  [ -z "$skipped" ] || printf 'fixture-backed cases skipped although %s exists:\n%s\n' \
    "$shared" "$skipped"
  echo "check_no_fixture_skips: FAILED (ctest exit $rc, $ran cases ran)"
  exit 1
fi
echo "check_no_fixture_skips: $ran fixture-backed cases ran, none skipped ($shared)"
