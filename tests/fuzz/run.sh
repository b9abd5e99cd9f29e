#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for a bounded time.
#
#   bash tests/fuzz/run.sh [SECONDS]       # default 30 s per target
#   FUZZ_TARGETS=binlog_events bash tests/fuzz/run.sh 60
#
# Installs clang and its sanitizer runtime (libclang-rt-14-dev) when missing; the
# other build dependencies are those of tests/run.sh.  Configures build-fuzz
# (-DTAGPURGE_FUZZ=ON: ASan + UBSan + libFuzzer), then runs every target over a
# copy of its committed corpus tests/fuzz/corpus/<target> in a temporary folder
# (the repository does not grow), leak detection on.  Prints per target the runs,
# exec/s, coverage and features; exits 1 on any crash, leak, timeout or OOM,
# naming the saved input (build-fuzz/artifacts/) and how to reproduce it.
# The targets' own log lines are muted (-close_fd_mask=2); a failing input is
# re-run unmuted so its message shows.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-30}
# FUZZ_TARGETS="pgoutput tagmap" runs only those.
read -r -a TARGETS <<<"${FUZZ_TARGETS:-binlog_value binlog_events pgoutput config tagmap}"

# shellcheck source=../../.ci/lib.sh
. .ci/lib.sh # apt_get, missing_packages
PACKAGES=(clang libclang-rt-14-dev)
mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt_get update
  apt_get install -y --no-install-recommends "${missing[@]}"
fi

BUILD=${BUILD_DIR:-build-fuzz}
cmake -S . -B "$BUILD" -DTAGPURGE_FUZZ=ON -DCMAKE_C_COMPILER=clang -DBUILD_TESTING=OFF \
  -DTAGPURGE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]/#/fuzz_}"

ROOT=$(pwd)
ART="$ROOT/$BUILD/artifacts"
WORK=$(mktemp -d /tmp/tagpurge-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$ART"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

failed=0
for t in "${TARGETS[@]}"; do
  cp -r "tests/fuzz/corpus/$t" "$WORK/$t"
  log="$WORK/$t.log"
  start=$(date +%s)
  rc=0
  # Absolute paths: fuzz_config changes its working directory.
  TMPDIR="$WORK" "$ROOT/$BUILD/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=25 -rss_limit_mb=2048 \
    -detect_leaks=1 -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$ART/$t-" \
    "$WORK/$t" >"$log" 2>&1 || rc=$?
  took=$(($(date +%s) - start))
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([^ ]*\).*/cov \1, ft \2, corpus \3/p' \
    <<<"${done_line:-$(grep -E '^#[0-9]+' "$log" | tail -1)}")
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  if [ "$rc" -eq 0 ] && [ -n "$done_line" ]; then
    printf 'fuzz_%-14s ok    %8s runs  %6s exec/s  %s  (%ss)\n' "$t" "${runs:-?}" "${rate:-?}" \
      "$cov" "$took"
    continue
  fi
  failed=1
  printf 'fuzz_%-14s FAIL  exit %s after %ss, %s\n' "$t" "$rc" "$took" "$cov"
  grep -E 'ERROR: |SUMMARY: |Test unit written|==[0-9]+==|^    #[0-9]' "$log" | head -40 || true
  input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  if [ -n "$input" ]; then
    echo "crashing input: $input"
    echo "reproduce: $BUILD/fuzz_$t $input   (or build/tests/fuzz_replay_$t $input)"
    echo "--- the input again, target output unmuted:"
    TMPDIR="$WORK" timeout 60 "$ROOT/$BUILD/fuzz_$t" -timeout=25 "$input" 2>&1 |
      grep -vE '^(INFO|Running|Executed)' | head -30 || true
  else
    tail -20 "$log"
  fi
done
exit $failed
