#!/usr/bin/env bash
# The linux/arm64 container image, built and tried on a Debian 12 amd64 machine as root,
# with no image registry (only the Debian mirror):
#
#   bash .ci/docker-arm64.sh
#
# 1. installs docker.io, debootstrap, qemu-user-static, binfmt-support, docker-compose
#    (only what is missing; services are not started),
# 2. registers qemu-aarch64 with binfmt_misc (arm64 RUN lines, debootstrap's second stage),
# 3. starts a private dockerd: own socket and data under $TAGPURGE_DOCKER_DIR
#    (/var/tmp/tagpurge-docker), no bridge, no iptables (builds use --network host),
# 4. makes the base images with debootstrap from the host's mirror: bookworm amd64 for
#    the build stage, bookworm arm64 slimmed for the runtime stage. They are kept and
#    reused for TAGPURGE_BASE_MAX_AGE_DAYS (7); TAGPURGE_DOCKER_FRESH=1 remakes them,
# 5. lints the Dockerfiles (dockerfile-utils, dockerfilelint from npm, when npm is
#    there) and validates deploy/docker/compose.yml (docker-compose config),
# 6. builds deploy/docker/Dockerfile for linux/arm64 with BuildKit: the build stage
#    cross-compiles on amd64 and runs the unit tests under qemu-user, the runtime stage
#    is arm64; builds compose's Varnish image (amd64: compiles the VCL),
# 7. runs `tagpurge --version` and `tagpurge check -c /etc/tagpurge/tagpurge.json` in
#    the arm64 image (emulated through binfmt), and checks compose's config in it,
# 8. on exit stops dockerd and undoes the binfmt registration it made.
# TAGPURGE_DOCKER_AMD64=1 also builds and tries the native linux/amd64 image (not in CI).
# Every step's wall time is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh

STATE=${TAGPURGE_DOCKER_DIR:-/var/tmp/tagpurge-docker}
export DOCKER_HOST=unix://$STATE/docker.sock
# Debian's 20.10 client: another docker CLI earlier in PATH may lack BuildKit support.
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1
IMAGE=tagpurge:ci-arm64
VARNISH_IMAGE=tagpurge-varnish:ci
BUILD_BASE=localhost/tagpurge-ci/debian:bookworm-amd64
RUNTIME_BASE=localhost/tagpurge-ci/debian:bookworm-slim-arm64
MAX_AGE_DAYS=${TAGPURGE_BASE_MAX_AGE_DAYS:-7}

PACKAGES=(docker.io debootstrap qemu-user-static binfmt-support docker-compose)

DOCKERD_PID=
BINFMT_MOUNTED=
BINFMT_ENABLED=
POLICY_RC=

cleanup() {
  local rc=$?
  if [ -n "$POLICY_RC" ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ -n "$DOCKERD_PID" ]; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    local _
    for _ in $(seq 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    # dockerd leaves its default network namespace mounted.
    if mountpoint -q "$STATE/exec/netns/default" 2>/dev/null; then
      umount "$STATE/exec/netns/default" || true
    fi
  fi
  if [ -n "$BINFMT_ENABLED" ]; then update-binfmts --disable qemu-aarch64 || true; fi
  if [ -n "$BINFMT_MOUNTED" ]; then umount /proc/sys/fs/binfmt_misc || true; fi
  step_summary "docker arm64 image" "$rc"
}
trap cleanup EXIT

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "installing: ${missing[*]}"
  # docker.io's postinst would start a system dockerd where nothing forbids it: forbid it.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    POLICY_RC=1
  fi
  apt_get update
  apt_get install -y --no-install-recommends "${missing[@]}"
  if [ -n "$POLICY_RC" ]; then rm -f /usr/sbin/policy-rc.d; POLICY_RC=; fi
}

# arm64 programs run through qemu-aarch64-static (flags F: also inside containers).
binfmt() {
  if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    BINFMT_MOUNTED=1
  fi
  if ! grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
    update-binfmts --enable qemu-aarch64
    BINFMT_ENABLED=1
  fi
  cat /proc/sys/fs/binfmt_misc/qemu-aarch64
}

start_dockerd() {
  mkdir -p "$STATE"
  if $DOCKER version >/dev/null 2>&1; then
    echo "using the dockerd already listening on $DOCKER_HOST"
    return 0
  fi
  (cd / && exec /usr/sbin/dockerd -H "$DOCKER_HOST" --data-root "$STATE/data" \
    --exec-root "$STATE/exec" --pidfile "$STATE/dockerd.pid" --iptables=false \
    --ip6tables=false --bridge=none --ip-masq=false >"$STATE/dockerd.log" 2>&1) &
  DOCKERD_PID=$!
  local _ v
  for _ in $(seq 120); do
    if v=$($DOCKER version --format '{{.Server.Version}}' 2>/dev/null) && [ -n "$v" ]; then
      echo "dockerd $v on $DOCKER_HOST"
      return 0
    fi
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  tail -30 "$STATE/dockerd.log"
  return 1
}

# The mirror apt uses here (deb822 sources or sources.list).
debian_mirror() {
  local m=
  if [ -n "${TAGPURGE_DEBIAN_MIRROR:-}" ]; then
    m=$TAGPURGE_DEBIAN_MIRROR
  else
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk '/^URIs:/ && $2 !~ /security/ && !m { m = $2 } END { print m }') || true
    [ -n "$m" ] || m=$(awk '/^deb / && $0 !~ /security/ && !m { m = ($2 ~ /^\[/ ? $3 : $2) }
      END { print m }' /etc/apt/sources.list 2>/dev/null) || true
  fi
  echo "${m:-http://deb.debian.org/debian}"
}
security_mirror() {
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ && $2 ~ /security/ && !m { m = $2 } END { print m }') || true
  [ -n "$m" ] || m=$(awk '/^deb / && /security/ && !m { m = ($2 ~ /^\[/ ? $3 : $2) }
      END { print m }' /etc/apt/sources.list 2>/dev/null) || true
  echo "${m:-http://deb.debian.org/debian-security}"
}

# Never delete through a mount (debootstrap mounts /proc and /sys while it runs).
rm_rootfs() {
  local dir=$1 m
  [ -e "$dir" ] || return 0
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$dir"
}

# What the official slim images do: updates and security sources, no docs, man pages or
# locales (also for packages installed later), no apt caches.
slim_rootfs() {
  local r=$1 mirror security
  mirror=$(debian_mirror)
  security=$(security_mirror)
  cat >"$r/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* \
    "$r"/usr/share/man/* "$r"/usr/share/locale/* "$r"/usr/share/info/* "$r"/var/log/*.log
  find "$r/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
}

# image_fresh TAG: the image exists and is younger than MAX_AGE_DAYS.
image_fresh() {
  local created
  [ "${TAGPURGE_DOCKER_FRESH:-0}" != 1 ] || return 1
  created=$($DOCKER image inspect -f '{{.Created}}' "$1" 2>/dev/null) || return 1
  [ $(($(date +%s) - $(date -d "$created" +%s))) -lt $((MAX_AGE_DAYS * 86400)) ]
}

# make_base ARCH TAG: debootstrap minbase bookworm, slimmed, as a one-layer image.
make_base() {
  local arch=$1 tag=$2 dir=$STATE/rootfs-$1 ctx=$STATE/ctx-$1 t0=$SECONDS
  if image_fresh "$tag"; then
    echo "$arch: reusing $tag (created $($DOCKER image inspect -f '{{.Created}}' "$tag"))"
    return 0
  fi
  rm_rootfs "$dir"
  rm -rf "$ctx"
  if ! debootstrap --arch="$arch" --variant=minbase bookworm "$dir" "$(debian_mirror)" \
    >"$STATE/debootstrap-$arch.log" 2>&1; then
    tail -30 "$STATE/debootstrap-$arch.log"
    return 1
  fi
  slim_rootfs "$dir"
  mkdir -p "$ctx"
  tar --numeric-owner -C "$dir" -cf "$ctx/rootfs.tar" .
  printf 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n' >"$ctx/Dockerfile"
  # FROM scratch + --platform: the image gets the right architecture (docker import does not).
  $DOCKER build -q --platform "linux/$arch" -t "$tag" "$ctx"
  rm_rootfs "$dir"
  rm -rf "$ctx"
  echo "$arch: $tag made in $((SECONDS - t0)) s"
}

# Both debootstraps at once (the arm64 one is mostly emulated dpkg work).
base_images() {
  local pa pb rc=0
  make_base amd64 "$BUILD_BASE" &
  pa=$!
  make_base arm64 "$RUNTIME_BASE" &
  pb=$!
  wait "$pa" || rc=1
  wait "$pb" || rc=1
  return "$rc"
}

lint() {
  local lintdir=$STATE/lint f
  if ! command -v npm >/dev/null; then
    echo "npm missing: Dockerfile lint skipped"
  else
    if [ ! -x "$lintdir/node_modules/.bin/dockerfilelint" ]; then
      npm install --prefix "$lintdir" --no-audit --no-fund --silent \
        dockerfile-utils@0.16.3 dockerfilelint@1.8.0
    fi
    for f in deploy/docker/Dockerfile deploy/docker/varnish.Dockerfile; do
      "$lintdir/node_modules/.bin/dockerfile-utils" lint "$f"
      # Settings: deploy/docker/.dockerfilelintrc. Exit status = number of issues.
      "$lintdir/node_modules/.bin/dockerfilelint" "$f"
    done
  fi
  docker-compose -f deploy/docker/compose.yml config -q
  echo "compose.yml: valid"
}

build_image() {
  $DOCKER build --progress=plain --network host --platform linux/arm64 \
    -f deploy/docker/Dockerfile --build-arg BUILD_IMAGE="$BUILD_BASE" \
    --build-arg RUNTIME_IMAGE="$RUNTIME_BASE" -t "$IMAGE" .
}

build_varnish_image() {
  $DOCKER build --progress=plain --network host --platform linux/amd64 \
    -f deploy/docker/varnish.Dockerfile --build-arg BASE_IMAGE="$BUILD_BASE" \
    -t "$VARNISH_IMAGE" .
}

inspect_image() {
  local platform user
  platform=$($DOCKER image inspect -f '{{.Os}}/{{.Architecture}}' "$IMAGE")
  user=$($DOCKER image inspect -f '{{.Config.User}}' "$IMAGE")
  echo "platform $platform, user $user, $($DOCKER image inspect -f '{{.Size}}' "$IMAGE" |
    awk '{ printf "%.0f MB", $1 / 1e6 }')"
  [ "$platform" = linux/arm64 ]
  [ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ]
  $DOCKER image inspect -f '{{json .Config.Healthcheck}}' "$IMAGE" | grep -F 9187/healthz
}

run_arm64() {
  $DOCKER run --rm --network none --platform linux/arm64 "$@"
}

run_version() {
  local arch version
  arch=$(run_arm64 --entrypoint uname "$IMAGE" -m)
  version=$(run_arm64 "$IMAGE" --version)
  echo "$arch: $version"
  [ "$arch" = aarch64 ]
  case "$version" in "tagpurge "*) ;; *) return 1 ;; esac
}

run_check() {
  run_arm64 "$IMAGE" check -c /etc/tagpurge/tagpurge.json
}

# compose.yml mounts deploy/docker/config at /etc/tagpurge.
run_check_compose_config() {
  run_arm64 -v "$PWD/deploy/docker/config:/etc/tagpurge:ro" "$IMAGE" \
    check -c /etc/tagpurge/tagpurge.json
}

build_amd64() {
  $DOCKER build --progress=plain --network host --platform linux/amd64 \
    -f deploy/docker/Dockerfile --build-arg BUILD_IMAGE="$BUILD_BASE" \
    --build-arg RUNTIME_IMAGE="$BUILD_BASE" -t tagpurge:ci-amd64 .
  [ "$($DOCKER image inspect -f '{{.Architecture}}' tagpurge:ci-amd64)" = amd64 ]
  $DOCKER run --rm --network none tagpurge:ci-amd64 --version
  $DOCKER run --rm --network none tagpurge:ci-amd64 check -c /etc/tagpurge/tagpurge.json
}

# Old images of previous runs, and a bounded build cache.
prune() {
  $DOCKER image prune -f >/dev/null
  $DOCKER builder prune -f --keep-storage 4gb >/dev/null
  $DOCKER system df
}

step "docker: install docker.io, debootstrap, qemu-user-static, docker-compose" install_packages
step "docker: binfmt_misc qemu-aarch64" binfmt
step "docker: start dockerd" start_dockerd
step "docker: base images (debootstrap amd64 + arm64, in parallel)" base_images
step "docker: lint Dockerfiles, validate compose.yml" lint
step "docker: build $IMAGE (linux/arm64, unit tests under qemu)" build_image
step "docker: build $VARNISH_IMAGE (compose's Varnish, VCL compiled)" build_varnish_image
step "docker: image is linux/arm64, non-root, with HEALTHCHECK" inspect_image
step "docker: run tagpurge --version (arm64)" run_version
step "docker: run tagpurge check -c /etc/tagpurge/tagpurge.json (arm64)" run_check
step "docker: run tagpurge check on compose's config (arm64)" run_check_compose_config
if [ "${TAGPURGE_DOCKER_AMD64:-0}" = 1 ]; then
  step "docker: build and run tagpurge:ci-amd64 (native)" build_amd64
fi
step "docker: prune old images and build cache" prune
