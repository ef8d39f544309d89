#!/bin/sh
# Description: guest half of vm-tests/bench/snapshotters.sh (run it through that script).
# Usage: snapshotters-guest.sh [--burst] COUNT CTRBENCH [SNAPSHOTTER...]
#   (default: thinsnap devmapper overlayfs; with --burst also thinsnap-serial)
# Prints ctrbench's "NAME-OP n=N median=MS p95=MS max=MS" lines, which the host tabulates.
# --burst: ctrbench -burst COUNT instead (COUNT Prepare+Mounts at once); thinsnap-serial is
# thinsnap under `thinsnap serve --serial` (one request at a time).
#   /dev/nvme0n1 = pool data, /dev/nvme1n1 = pool metadata, /dev/nvme2n1 = an ext4 state
#   filesystem that holds containerd's root (its bolt database, and overlayfs's directories),
#   thinsnap's root and the devmapper snapshotter's root_path, for every contender alike.
# thinsnap and devmapper each get a fresh pool on the same two devices, one after the other:
# 64 KiB blocks, skip_block_zeroing, a 1 GiB ext4 base. Every contender gets a fresh containerd.
set -eu
# shellcheck disable=SC1091 # the harness provides them inside the guest
. /vm/lib/common.sh
# shellcheck disable=SC1091
. /vm/lib/containerd.sh

MODE=-count DEFAULT="thinsnap devmapper overlayfs"
if [ "${1:-}" = --burst ]; then
  MODE=-burst DEFAULT="thinsnap thinsnap-serial devmapper overlayfs"
  shift
fi
N=$1 CTRBENCH=$2
shift 2
# shellcheck disable=SC2086 # a list of words
[ $# -gt 0 ] || set -- $DEFAULT
DATA=/dev/nvme0n1 META=/dev/nvme1n1 STATE_DEV=/dev/nvme2n1
BLOCK_SECTORS=128 # 64 KiB
DISABLED_DEFAULT=$CTD_DISABLED
trap ctd_cleanup EXIT

wipe_devices() {
  dmsetup remove_all 2>/dev/null || true
  dd if=/dev/zero of=$META bs=1M count=8 conv=fsync 2>/dev/null
  dd if=/dev/zero of=$DATA bs=1M count=8 conv=fsync 2>/dev/null
}

# bench NAME [LABEL]: ctrbench against a fresh containerd whose root is on the state filesystem.
bench() {
  "$CTRBENCH" -address "$CTD_SOCK" -snapshotter "$1" -as "${2:-$1}" "$MODE" "$N" ||
    { ctd_log_errors 20; fail "ctrbench ${2:-$1} failed"; }
  ctd_log_errors 5
}

fresh_containerd() {
  CTD_DIR=/state/ctd-$1
  # shellcheck disable=SC2034 # read by the helpers of containerd.sh
  CTD_CONFIG=$CTD_DIR/config.toml CTD_LOG=$CTD_DIR/containerd.log
  rm -rf "$CTD_DIR"
  ctd_start "${2:-}"
}

# run_thinsnap [LABEL SERVE-ARGS...]: e.g. run_thinsnap thinsnap-serial --serial
run_thinsnap() {
  LABEL=${1:-thinsnap}
  [ $# -eq 0 ] || shift
  step "$LABEL: thinsnap serve${*:+ $*} as containerd's proxy snapshotter"
  wipe_devices
  R=/state/ts${LABEL#thinsnap}
  run thinsnap --root "$R" pool create --data $DATA --metadata $META --block-size 64k \
    --base-size 1G --force
  dmsetup table | grep thin-pool
  ts_serve_start "$R" "$@"
  fresh_containerd "$LABEL"
  bench thinsnap "$LABEL"
  ctd_stop
  ts_serve_stop
  run thinsnap --root "$R" pool check
  run thinsnap --root "$R" pool deactivate
}

run_devmapper() {
  step "containerd's devmapper snapshotter"
  wipe_devices
  run dmsetup create ctdpool --table \
    "0 $(blockdev --getsz $DATA) thin-pool $META $DATA $BLOCK_SECTORS 1024 1 skip_block_zeroing"
  dmsetup table | grep thin-pool
  CTD_DISABLED='"io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs"'
  fresh_containerd devmapper "[plugins.\"io.containerd.snapshotter.v1.devmapper\"]
  pool_name = \"ctdpool\"
  root_path = \"/state/devmapper\"
  base_image_size = \"1GB\"
  discard_blocks = false
  fs_type = \"ext4\""
  bench devmapper
  ctd_stop
  CTD_DISABLED=$DISABLED_DEFAULT
  dmsetup remove_all
}

run_overlayfs() {
  step "containerd's overlayfs snapshotter (on the ext4 state filesystem)"
  fresh_containerd overlayfs
  bench overlayfs
  ctd_stop
}

run mkfs.ext4 -q -F $STATE_DEV
mkdir -p /state
run mount $STATE_DEV /state
for sn in "$@"; do
  case $sn in
    thinsnap) run_thinsnap ;;
    thinsnap-serial) run_thinsnap thinsnap-serial --serial ;;
    devmapper) run_devmapper ;;
    overlayfs) run_overlayfs ;;
    *) fail "unknown snapshotter $sn" ;;
  esac
done
echo "snapshotters: done"
