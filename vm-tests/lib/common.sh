# Helpers for VM scenarios. Inside the guest this file is /vm/lib/common.sh:
# shellcheck shell=sh
#   . /vm/lib/common.sh
# POSIX sh (the guest's /bin/sh is busybox ash); also works from bash.
# Exit statuses follow the harness: 0 pass, 1 fail, 77 skip.

# fail MSG...: print MSG and end the scenario as failed.
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# skip MSG...: end the scenario as skipped (ctest SKIP_RETURN_CODE 77).
skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# step MSG...: a visible progress line in the scenario's output.
step() {
  echo "--- $*"
}

# run CMD...: echo CMD, run it, fail the scenario if it fails.
run() {
  echo "+ $*"
  "$@" || fail "command failed with status $?: $*"
}

# check_eq ACTUAL EXPECTED [WHAT]: fail unless the two strings are equal.
check_eq() {
  [ "$1" = "$2" ] || fail "${3:-check_eq}: expected '$2', got '$1'"
}

# check_ne A B [WHAT]: fail if the two strings are equal.
check_ne() {
  [ "$1" != "$2" ] || fail "${3:-check_ne}: both are '$1'"
}

# check_gt A B [WHAT]: fail unless integer A > integer B.
check_gt() {
  [ "$1" -gt "$2" ] || fail "${3:-check_gt}: expected $1 > $2"
}

# expect_fail CMD...: CMD must exit non-zero (its output is shown).
expect_fail() {
  echo "+ (expect failure) $*"
  if "$@"; then
    fail "expected failure but succeeded: $*"
  fi
  return 0
}

# sha_of FILE|DEV [BYTES]: sha256 of the whole file/device, or of its first BYTES bytes.
sha_of() {
  if [ $# -ge 2 ]; then
    head -c "$2" "$1" | sha256sum | cut -d' ' -f1
  else
    sha256sum <"$1" | cut -d' ' -f1
  fi
}

# ms_now: wall-clock milliseconds (coreutils date is in the image; busybox date lacks %N).
# Falls back to /proc/uptime (10 ms resolution) if date cannot do it.
ms_now() {
  _ms=$(date +%s%3N 2>/dev/null)
  case $_ms in
    *[!0-9]* | '') awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime ;;
    *) echo "$_ms" ;;
  esac
}

# wait_for_block DEV [SECONDS]: wait until DEV is a block device node (default 10 s).
wait_for_block() {
  _n=$((${2:-10} * 20))
  while [ ! -b "$1" ] && [ "$_n" -gt 0 ]; do
    sleep 0.05
    _n=$((_n - 1))
  done
  [ -b "$1" ] || fail "block device $1 did not appear"
}

# thin_check_pool_meta DEV|FILE: thin_check on an (inactive) pool metadata device must pass. A
# file is attached read-only to a loop device first (thin_check wants O_DIRECT; tmpfs refuses it).
thin_check_pool_meta() {
  _dev=$1
  if [ -f "$1" ]; then
    _dev=$(losetup -f --show -r "$1") || fail "losetup $1"
  fi
  echo "+ thin_check $1${_dev#"$1"}"
  thin_check "$_dev"
  _rc=$?
  [ "$_dev" = "$1" ] || losetup -d "$_dev"
  [ $_rc -eq 0 ] || fail "thin_check $1 failed with status $_rc"
}

# pool_status_field NAME N: field N (1-based) of `dmsetup status NAME` after the target name,
# e.g. 1 = transaction id, 2 = used/total metadata blocks, 3 = used/total data blocks.
pool_status_field() {
  dmsetup status "$1" | awk -v n="$2" '{ print $(n + 3) }'
}

# sectors_of DEV: size in 512-byte sectors.
sectors_of() {
  blockdev --getsz "$1"
}

# sha_of_clone ROOT NAME: sha256 of thinsnap device NAME (on root ROOT) read through a throwaway
# clone, so that NAME itself is never activated writable (it stays a valid base for send --from).
sha_of_clone() {
  thinsnap --root "$1" volume clone "$2" "$2-sha" >/dev/null || fail "clone $2"
  _d=$(thinsnap --root "$1" activate "$2-sha") || fail "activate $2-sha"
  sha_of "$_d"
  thinsnap --root "$1" rm "$2-sha" >/dev/null || fail "rm $2-sha"
}
