#!/usr/bin/env bash
# tagpurge benchmarks against its peers, one command (bench/README.md).
#
#   bash bench/run.sh            # full run (≈ 10 min on 2 cores): bench/results/
#   bash bench/run.sh --smoke    # small sizes (< 2 min): bench/results/tmp/smoke/
#   options: --out DIR           where results.md, results.json and the PNGs go
#            --tagpurge BIN --loadgen BIN   use these instead of building build-bench/
#
# Installs what is missing (Debian packages, the npm peers into a temp folder),
# builds tagpurge and bench/loadgen (Release), starts its own PostgreSQL,
# MariaDB and 4 Varnish nodes on free loopback ports, measures, writes the
# results and stops everything it started. Exit 0 all measured, 1 some
# measurement failed (results.md says which), 2 usage, 77 the npm peers could
# not be installed (registry unreachable).
set -euo pipefail
CALLER_DIR=$PWD
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$SELF")/.."

# The peers' versions are pinned so runs compare; BENCH_NPM_PEERS overrides.
read -r -a PEERS <<<"${BENCH_NPM_PEERS:-@vlasky/zongji@0.9.0 pg-logical-replication@2.5.0}"
PACKAGES=(build-essential cmake pkg-config python3 libuv1-dev libjansson-dev
  libcurl4-openssl-dev libpq-dev libzstd-dev libmariadb-dev postgresql postgresql-15
  mariadb-server mariadb-client varnish varnish-modules wrk gnuplot-nox)

usage() { sed -n '2,14p' "$SELF" | sed 's/^# \{0,1\}//'; }

# Paths given on the command line are relative to where it was typed.
abs() { case "$1" in /*) echo "$1" ;; *) echo "$CALLER_DIR/$1" ;; esac; }

SMOKE=() OUT= TP= LG=
ARGS="$*"
while [ $# -gt 0 ]; do
  case "$1" in
  --smoke) SMOKE=(--smoke) ;;
  --out) OUT=$(abs "${2:?--out needs a folder}"); shift ;;
  --tagpurge) TP=$(abs "${2:?--tagpurge needs a file}"); shift ;;
  --loadgen) LG=$(abs "${2:?--loadgen needs a file}"); shift ;;
  -h | --help) usage; exit 0 ;;
  *) echo "bench/run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$OUT" ]; then
  if [ ${#SMOKE[@]} -gt 0 ]; then OUT=bench/results/tmp/smoke; else OUT=bench/results; fi
fi

install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bench: installing ${missing[*]}"
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
    --no-install-recommends "${missing[@]}"
}

install_missing "${PACKAGES[@]}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  install_missing nodejs npm
fi

if [ -z "$TP" ] || [ -z "$LG" ]; then
  BUILD=${BENCH_BUILD_DIR:-build-bench}
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target tagpurge loadgen
  TP=${TP:-$BUILD/tagpurge}
  LG=${LG:-$BUILD/loadgen}
fi

NODE_DIR=$(mktemp -d /tmp/tp-bench-npm.XXXXXX)
trap 'rm -rf "$NODE_DIR"' EXIT
echo "bench: npm install ${PEERS[*]} into $NODE_DIR"
if ! timeout 300 npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error \
  --fetch-retries=1 --fetch-timeout=30000 "${PEERS[@]}"; then
  echo "bench/run.sh: SKIP: npm could not install ${PEERS[*]} (is the npm registry reachable?)" >&2
  exit 77
fi

rc=0
python3 bench/bench.py --tagpurge "$TP" --loadgen "$LG" --node-dir "$NODE_DIR" --out "$OUT" \
  --command "bash bench/run.sh${ARGS:+ $ARGS}" "${SMOKE[@]}" || rc=$?
python3 bench/check_results.py "$OUT" || rc=1
exit $rc
