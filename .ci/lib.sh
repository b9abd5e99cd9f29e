# shellcheck shell=bash
# Sourced by the .ci scripts: step timing and root.

# step NAME CMD...: run CMD, print and remember its wall time. CMD runs under set -e
# (no `|| ...` around it, which would switch -e off inside functions): a failing step
# ends the script, and the EXIT trap prints the times so far and the failed step.
STEP_LOG=()
STEP_NOW=
step() {
  local name=$1 t0 t1 secs
  shift
  echo "::: $name"
  STEP_NOW=$name
  t0=$(date +%s%N)
  "$@"
  t1=$(date +%s%N)
  STEP_NOW=
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  STEP_LOG+=("$(printf '%7s s  %s' "$secs" "$name")")
  echo "::: $name: ${secs} s"
}

# step_summary TITLE [RC]: the wall times of every step so far (from an EXIT trap; RC
# defaults to $?, the script's exit status there).
step_summary() {
  local rc=${2:-$?}
  echo "::: $1: wall time per step"
  [ ${#STEP_LOG[@]} -eq 0 ] || printf '%s\n' "${STEP_LOG[@]}"
  [ -z "$STEP_NOW" ] || echo "::: FAILED in step: $STEP_NOW (exit $rc)"
  return "$rc"
}

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
apt_get() {
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=900 "$@"
}

# missing_packages PKG...: print those not installed (PKG may carry :arch).
missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
