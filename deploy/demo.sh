#!/usr/bin/env bash
# Live demo of tagpurge on a fresh Debian 12:
#
#   bash deploy/demo.sh
#
# 1. installs missing Debian packages (apt-get, through sudo when not root),
# 2. builds build/tagpurge if it is missing,
# 3. starts a throwaway PostgreSQL 15, a test origin and one Varnish + xkey node
#    on free loopback ports (tests/harness/services.py; nothing touches the
#    stock services on 5432/6081),
# 4. creates shop.products, starts tagpurge, caches a page in Varnish, runs an
#    UPDATE and shows the page being purged, with the measured latency,
# 5. stops everything and removes every temporary file on exit (also on Ctrl-C).
#
# Set TAGPURGE_DEMO_KEEP=1 to skip step 5 and keep the servers for exploring
# (the script then prints how to stop them).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
SERVICES=(python3 "$REPO/tests/harness/services.py")
# make and libc6-dev are only Recommends of cmake/gcc: listed so that the build
# also works where apt is configured not to install recommended packages.
PACKAGES=(postgresql libpq-dev libzstd-dev default-libmysqlclient-dev libmariadb-dev varnish varnish-modules libuv1-dev libjansson-dev
  libcurl4-openssl-dev cmake gcc make libc6-dev pkg-config python3 curl)
PAGE=/t/product-1/category-3      # the origin tags it: product-1 category-3

DEMO=""
ENVDIR=""
TP_PID=""

# ---------------------------------------------------------------- helpers

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; N=$'\e[0m'; else B=""; G=""; N=""; fi
say() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root or sudo to run: $*"; fi
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "${TAGPURGE_DEMO_KEEP:-0}" = 1 ] && [ -n "$DEMO" ]; then
    say "Kept running (TAGPURGE_DEMO_KEEP=1). Stop everything with:"
    info "kill $TP_PID; python3 tests/harness/services.py down --dir $ENVDIR; rm -rf $DEMO"
    exit "$rc"
  fi
  if [ -n "$TP_PID" ] && kill -0 "$TP_PID" 2>/dev/null; then
    kill -TERM "$TP_PID" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$TP_PID" 2>/dev/null || break; sleep 0.025; done
    kill -KILL "$TP_PID" 2>/dev/null || true
    wait "$TP_PID" 2>/dev/null || true
  fi
  if [ -n "$ENVDIR" ] && [ -f "$ENVDIR/env.json" ]; then
    "${SERVICES[@]}" down --dir "$ENVDIR" >/dev/null || echo "demo: services down failed" >&2
  fi
  [ -n "$DEMO" ] && rm -rf "$DEMO"
  [ "$rc" = 0 ] || echo "demo: failed (exit $rc)" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# env.json field, e.g. envget '["pg"]["port"]'
envget() {
  python3 -c 'import json,sys; print(eval("json.load(open(sys.argv[1]))" + sys.argv[2]))' \
    "$ENVDIR/env.json" "$1"
}

psql_shop() {
  "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PGPORT" -U postgres -d shop "$@"
}

# GET the demo page through Varnish; sets X_CACHE and COUNT.
fetch() {
  local hdrs
  hdrs=$(curl -sS -o /dev/null -D - --max-time 5 "http://127.0.0.1:$VPORT$PAGE" | tr -d '\r') ||
    die "GET http://127.0.0.1:$VPORT$PAGE failed"
  X_CACHE=$(awk -F': ' 'tolower($1) == "x-cache" { print $2 }' <<<"$hdrs")
  COUNT=$(awk -F': ' 'tolower($1) == "x-backend-count" { print $2 }' <<<"$hdrs")
  if [ -z "$X_CACHE" ] || [ -z "$COUNT" ]; then
    die "unexpected response from Varnish:"$'\n'"$hdrs"
  fi
}

show_fetch() {
  fetch
  info "GET $PAGE  ->  X-Cache: $X_CACHE   X-Backend-Count: $COUNT"
}

# ---------------------------------------------------------------- steps

install_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    info "not a Debian system: skipping apt, assuming the tools are installed"
    return
  fi
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    info "all packages present"
    return
  fi
  info "missing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600 \
    "${PACKAGES[@]}"
}

build_tagpurge() {
  if [ -x build/tagpurge ]; then
    info "build/tagpurge exists (delete it to rebuild)"
    return
  fi
  [ -f CMakeLists.txt ] || die "no CMakeLists.txt in $REPO"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j2
  [ -x build/tagpurge ] || die "build finished but build/tagpurge is missing"
}

start_services() {
  DEMO=$(mktemp -d /tmp/tagpurge-demo.XXXXXX)
  ENVDIR=$DEMO/env
  local rc=0
  "${SERVICES[@]}" up --dir "$ENVDIR" --varnish 1 || rc=$?
  [ "$rc" = 77 ] && die "a server binary is missing (see above); install the packages listed in $0"
  [ "$rc" = 0 ] || die "could not start the test servers"
  PGPORT=$(envget '["pg"]["port"]')
  PGSOCK=$(envget '["pg"]["sockdir"]')
  PGBIN=$(envget '["pg"]["bindir"]')
  VPORT=$(envget '["varnish"][0]["port"]')
  OPORT=$(envget '["origin"]["port"]')
  info "PostgreSQL 127.0.0.1:$PGPORT   Varnish 127.0.0.1:$VPORT   origin 127.0.0.1:$OPORT"
}

create_schema() {
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PGPORT" -U postgres -d postgres \
    -c "CREATE DATABASE shop"
  psql_shop <<'SQL'
CREATE TABLE products(id int PRIMARY KEY, name text, category_id int);
ALTER TABLE products REPLICA IDENTITY FULL;
INSERT INTO products VALUES (1, 'old', 3), (2, 'other', 3);
SQL
  psql_shop -c "SELECT id, name, category_id FROM products ORDER BY id" | sed 's/^/    products: /'
}

write_config() {
  mkdir -p "$DEMO/state"
  cat >"$DEMO/mapping.json" <<'JSON'
{ "public.products": { "tags": ["product-{id}", "category-{category_id}", "product-list"] } }
JSON
  cat >"$DEMO/tagpurge.json" <<JSON
{
  "state_dir": "$DEMO/state",
  "mapping": "mapping.json",
  "sources": [ { "name": "shop", "type": "postgres",
      "conninfo": "host=127.0.0.1 port=$PGPORT dbname=shop user=postgres",
      "slot": "tagpurge", "publication": "tagpurge", "create": true } ],
  "sinks": [ { "name": "edge", "type": "xkey", "nodes": ["http://127.0.0.1:$VPORT"] } ],
  "delivery": { "coalesce_ms": 5, "retry_initial_ms": 100, "retry_max_ms": 10000, "timeout_ms": 2000 }
}
JSON
  info "config  $DEMO/tagpurge.json"
  info "mapping public.products -> product-{id} category-{category_id} product-list"
}

start_tagpurge() {
  build/tagpurge run -c "$DEMO/tagpurge.json" -v 2>"$DEMO/tagpurge.log" &
  TP_PID=$!
  info "tagpurge pid $TP_PID, log $DEMO/tagpurge.log"
  # Ready = its replication slot exists and a walsender streams it.
  local deadline=$(( $(now_ms) + 10000 )) active=""
  while :; do
    if ! kill -0 "$TP_PID" 2>/dev/null; then
      cat "$DEMO/tagpurge.log" >&2
      die "tagpurge exited (log above)"
    fi
    active=$(psql_shop -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'tagpurge'")
    [ "$active" = t ] && break
    [ "$(now_ms)" -lt "$deadline" ] || { cat "$DEMO/tagpurge.log" >&2; die "tagpurge not streaming after 10 s"; }
    sleep 0.025
  done
  info "streaming from slot 'tagpurge'"
}

purge_demo() {
  say "Cache a page in Varnish (the origin counts its fetches in X-Backend-Count)"
  show_fetch
  [ "$X_CACHE" = MISS ] || die "expected a MISS on the first request"
  show_fetch
  [ "$X_CACHE" = HIT ] || die "expected a HIT on the second request"
  local before=$COUNT

  say "UPDATE products SET name='new' WHERE id=1   (tags: product-1 category-3 product-list)"
  local t0 t1 deadline
  t0=$(date +%s%N)
  psql_shop -c "UPDATE products SET name='new' WHERE id=1"
  deadline=$(( t0 / 1000000 + 10000 ))
  while :; do
    fetch
    if [ "$X_CACHE" = MISS ] && [ "$COUNT" -gt "$before" ]; then break; fi
    [ "$(now_ms)" -lt "$deadline" ] || die "page still cached 10 s after the UPDATE"
    sleep 0.01
  done
  t1=$(date +%s%N)
  info "GET $PAGE  ->  X-Cache: $X_CACHE   X-Backend-Count: $COUNT"
  printf '    %spurge visible %d ms after the UPDATE was issued%s\n' "$G" $(( (t1 - t0) / 1000000 )) "$N"
  show_fetch
}

main() {
  say "Packages"
  install_packages
  say "Build"
  build_tagpurge
  say "Throwaway PostgreSQL + origin + Varnish"
  start_services
  say "Database shop"
  create_schema
  say "tagpurge"
  write_config
  start_tagpurge
  purge_demo
  say "tagpurge log (tail)"
  tail -n 15 "$DEMO/tagpurge.log" | sed 's/^/    /'
  say "Done; cleaning up"
}

main "$@"
