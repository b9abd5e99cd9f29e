#!/usr/bin/env bash
# `cpack -G DEB` builds a package with the binary, the unit, the example
# config in /etc/tagpurge (conffiles) and the VCL; as root it also installs
# it, checks the installed files work (check -c /etc/tagpurge/tagpurge.json,
# systemd-analyze verify of the installed unit, a start/reload/stop as the
# unit's Exec lines do it), and purges it again.
# Starting the service needs systemd as PID 1, which CI does not have: the
# postinst starts it only where /run/systemd/system exists.
#
#   check_deb.sh BUILD_DIR
set -euo pipefail
build=$1
command -v dpkg-shlibdeps >/dev/null || { echo "dpkg-dev not installed"; exit 77; }
cd "$build"
rm -f tagpurge_*.deb
cpack -G DEB >cpack.log 2>&1 || { cat cpack.log; echo "FAIL: cpack"; exit 1; }
deb=$(ls tagpurge_*.deb)
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/tagpurge ./usr/lib/systemd/system/tagpurge.service \
         ./etc/tagpurge/tagpurge.json ./etc/tagpurge/mapping.example.json \
         ./usr/share/tagpurge/tagpurge.vcl; do
  grep -qx "$f" <<<"$files" || { echo "FAIL: $f not in $deb"; exit 1; }
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/tagpurge/tagpurge.json ||
  { echo "FAIL: /etc/tagpurge/tagpurge.json is not a conffile"; exit 1; }
deps=$(dpkg-deb -f "$deb" Depends)
for d in libuv1 libjansson4 libcurl4 libpq5 libmariadb3; do
  grep -q "$d" <<<"$deps" || { echo "FAIL: Depends lacks $d: $deps"; exit 1; }
done
echo "$deb: $(wc -l <<<"$files") entries; Depends: $deps"
if [ "$(id -u)" != 0 ] || dpkg-query -W -f='${Status}' tagpurge 2>/dev/null | grep -q 'ok installed'; then
  echo "not root, or a tagpurge package is installed already: not installing"; exit 0
fi
trap 'dpkg -P tagpurge >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb"
/usr/bin/tagpurge --version
/usr/bin/tagpurge check -c /etc/tagpurge/tagpurge.json
if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify /usr/lib/systemd/system/tagpurge.service 2>&1)
  [ -z "$out" ] || { echo "$out"; echo "FAIL: the installed unit does not verify"; exit 1; }
fi
# Start it the way the unit does (ExecStart, then ExecReload's SIGHUP, then the
# stop's SIGTERM), minus systemd: /healthz answers, the reload of the installed
# conffiles is accepted, and it exits 0.  The example sources are unreachable
# here: tagpurge retries them, which is what it would do under systemd too.
exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/tagpurge.service)
log=$(mktemp)
TAGPURGE_PG_PASSWORD=unused $exec_start >"$log" 2>&1 &
pid=$!
ok=
# Its own status server first (another tagpurge on 9187 would answer /healthz, and
# a SIGHUP before the handlers are installed would end this one).
for _ in $(seq 50); do
  if grep -q "status: listening on 127.0.0.1:9187" "$log" &&
    curl -fsS http://127.0.0.1:9187/healthz >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || { cat "$log"; kill "$pid"; echo "FAIL: /healthz did not answer"; exit 1; }
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "reloaded /etc/tagpurge/tagpurge.json" "$log" && break; sleep 0.1; done
grep -q "reloaded /etc/tagpurge/tagpurge.json" "$log" || { cat "$log"; echo "FAIL: no reload"; exit 1; }
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] || { cat "$log"; echo "FAIL: exit $rc after SIGTERM"; exit 1; }
echo "started as ExecStart does: /healthz 200, SIGHUP reloaded, SIGTERM exit 0"
rm -f "$log"
dpkg -P tagpurge
[ ! -e /usr/bin/tagpurge ] || { echo "FAIL: removal left /usr/bin/tagpurge"; exit 1; }
[ ! -e /etc/tagpurge/tagpurge.json ] || { echo "FAIL: purge left /etc/tagpurge"; exit 1; }
echo "installed, checked and removed cleanly"
