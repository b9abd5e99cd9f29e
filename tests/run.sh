#!/usr/bin/env bash
# Install what is missing (Debian 12), build with warnings as errors, run every test.
#
#   bash tests/run.sh            # everything: unit, config and integration tests
#   bash tests/run.sh -L unit    # extra arguments go to ctest
#
# Integration tests start their own PostgreSQL 15, Varnish 7.1 + xkey and test
# origin on free loopback ports in temporary folders (ctest fixture), and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config python3 curl openssl
  libuv1-dev libjansson-dev libcurl4-openssl-dev libpq-dev libzstd-dev
  default-libmysqlclient-dev libmariadb-dev mariadb-server mariadb-client
  postgresql postgresql-15 varnish varnish-modules
  dpkg-dev systemd # dpkg-dev: cpack -G DEB; systemd-analyze: deploy.systemd_unit checks deploy/systemd/tagpurge.service
  wrk gnuplot-nox) # bench.smoke (bench/run.sh --smoke)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  # Containers often forbid service start-up (policy-rc.d): tests start their own servers.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
    --no-install-recommends "${missing[@]}"
fi

BUILD=${BUILD_DIR:-build}
# shellcheck disable=SC2086 # extra cmake arguments, e.g. -DTAGPURGE_SANITIZE=ON
cmake -S . -B "$BUILD" -DTAGPURGE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo ${TAGPURGE_CMAKE_ARGS:-}
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
# ctest's "100% tests passed" counts skipped cases (exit 77) as not failed: say how many
# did not run, so a run without ../shared/fixtures never reads as fully passed.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --output-on-failure -j2 "$@" | tee "$log"
skipped=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$log" || true)
[ "$skipped" = 0 ] || echo "tests/run.sh: $skipped cases SKIPPED (did not run, not passed)"
