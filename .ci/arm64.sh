#!/usr/bin/env bash
# arm64 unit tests under qemu-user, on a Debian 12 amd64 machine (root, or sudo):
#
#   bash .ci/arm64.sh            # extra arguments go to ctest (default: -L unit)
#
# 1. adds the arm64 architecture and installs the cross toolchain, the :arm64
#    libraries and qemu-user-static (only what is missing),
# 2. unpacks libpq-dev:arm64 and libmariadb-dev:arm64 into a side folder
#    (build-arm64-dev/): they are not Multi-Arch and would replace the amd64 -dev
#    packages the native build needs,
# 3. cross-builds tagpurge and the unit tests with -Werror (cmake/toolchain-aarch64.cmake),
# 4. runs `ctest -L unit` (unit.*, config.*, replay.*) with every arm64 program started by
#    qemu-aarch64-static -L /usr/aarch64-linux-gnu. No binfmt_misc needed.
# Integration tests (label integration) are not run cross.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh

BUILD=${ARM64_BUILD_DIR:-build-arm64}
SIDE=$PWD/$BUILD-dev
QEMU=/usr/bin/qemu-aarch64-static
EMULATOR="$QEMU;-L;/usr/aarch64-linux-gnu"

PACKAGES=(crossbuild-essential-arm64 cmake make python3 qemu-user-static
  pkgconf:arm64 libuv1-dev:arm64 libjansson-dev:arm64 libcurl4-openssl-dev:arm64
  libssl-dev:arm64 zlib1g-dev:arm64 libzstd-dev:arm64 libpq5:arm64 libmariadb3:arm64)

install_packages() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
  fi
  local missing
  mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt_get update
    apt_get install -y --no-install-recommends "${missing[@]}"
  fi
}

# libpq-dev/libmariadb-dev for arm64, the same versions as the installed runtime libraries.
side_folder() {
  local pq mdb tmp d L
  pq=$(dpkg-query -W -f='${Version}' libpq5:arm64)
  mdb=$(dpkg-query -W -f='${Version}' libmariadb3:arm64)
  if [ -f "$SIDE/.versions" ] && [ "$(cat "$SIDE/.versions")" = "$pq $mdb" ]; then
    echo "up to date: libpq-dev $pq, libmariadb-dev $mdb"
    return 0
  fi
  rm -rf "$SIDE"
  tmp=$(mktemp -d)
  # apt-get download as root warns "Download is performed unsandboxed": harmless.
  (cd "$tmp" && apt-get -q download "libpq-dev:arm64=$pq" "libmariadb-dev:arm64=$mdb")
  for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$SIDE"; done
  rm -rf "$tmp"
  L=$SIDE/usr/lib/aarch64-linux-gnu
  # The packaged .so links are relative and would dangle here.
  ln -sf /usr/lib/aarch64-linux-gnu/libpq.so.5 "$L/libpq.so"
  ln -sf /usr/lib/aarch64-linux-gnu/libmariadb.so.3 "$L/libmariadb.so"
  ln -sf /usr/lib/aarch64-linux-gnu/libmariadb.so.3 "$L/libmariadbclient.so"
  sed -i "s|^prefix=/usr\$|prefix=$SIDE/usr|" "$L/pkgconfig/libpq.pc" "$L/pkgconfig/libmariadb.pc"
  # arm64 binaries, useless (and misleading) on the host.
  rm -f "$SIDE/usr/bin/pg_config" "$SIDE/usr/bin/mariadb_config" "$SIDE/usr/bin/mariadb-config"
  echo "$pq $mdb" >"$SIDE/.versions"
}

configure() {
  cmake --no-warn-unused-cli -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
    -DARM64_DEV_SIDECAR="$SIDE" -DCMAKE_CROSSCOMPILING_EMULATOR="$EMULATOR" \
    -DTAGPURGE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
}

# The binary is arm64 and starts under qemu.
check_binary() {
  readelf -h "$BUILD/tagpurge" | grep -E 'Machine:.*AArch64'
  "$QEMU" -L /usr/aarch64-linux-gnu "$BUILD/tagpurge" --version
}

# Every test command starts with the emulator, and the Python runners get it too, so a
# registered binfmt_misc handler cannot make the tests pass by itself.
check_emulator() {
  local first
  first=$(cd "$BUILD" && ctest -N -V -L unit | awk '/Test command:/ && !n++')
  echo "$first"
  case "$first" in *"$QEMU"*) ;; *) echo "ctest does not use $QEMU"; return 1 ;; esac
  grep -q "TAGPURGE_EMULATOR=$QEMU -L /usr/aarch64-linux-gnu" "$BUILD/tests/CTestTestfile.cmake"
}

run_tests() {
  local args=("$@")
  [ ${#args[@]} -gt 0 ] || args=(-L unit)
  (cd "$BUILD" && ctest --output-on-failure -j"$(nproc)" "${args[@]}")
}

trap 'step_summary "arm64 unit tests"' EXIT
step "arm64: install cross toolchain, :arm64 libraries, qemu" install_packages
step "arm64: libpq-dev/libmariadb-dev side folder" side_folder
step "arm64: cmake configure" configure
step "arm64: build (-Werror)" cmake --build "$BUILD" -j"$(nproc)"
step "arm64: binary is aarch64, --version under qemu" check_binary
step "arm64: ctest uses the emulator" check_emulator
step "arm64: ctest ${*:--L unit} under qemu" run_tests "$@"
step "arm64: no fixture-backed skips under qemu" bash tests/check_no_fixture_skips.sh "$BUILD"
