#!/bin/sh
# Description: guest half of vm-tests/bench/served-scale.sh (run it through that script).
# Usage: served-scale-guest.sh COUNT CTRBENCH
#   /dev/nvme0n1 = pool data, /dev/nvme1n1 = pool metadata, /dev/nvme2n1 = an ext4 filesystem
#   for thinsnap's root (catalog, journal). The pool: 64 KiB blocks, skip_block_zeroing, a 1 GiB
#   ext4 base, as in snapshotters.sh.
# `thinsnap serve` on its socket; ctrbench -scale COUNT talks to that socket with containerd's
# proxy snapshotter client (no containerd): one committed parent, COUNT Prepare+Mounts from it,
# kept (each is an active thin device), then List (Walk). The daemon's VmRSS/VmHWM come from
# /proc/PID/status (`thinsnap serve` execs thinsnap-serve, so the pid is the daemon's).
set -eu
# shellcheck disable=SC1091 # the harness provides them inside the guest
. /vm/lib/common.sh
# shellcheck disable=SC1091
. /vm/lib/containerd.sh

N=$1 CTRBENCH=$2
DATA=/dev/nvme0n1 META=/dev/nvme1n1 STATE_DEV=/dev/nvme2n1
R=/state/ts
trap ctd_cleanup EXIT

run mkfs.ext4 -q -F $STATE_DEV
mkdir -p /state
run mount $STATE_DEV /state
echo "served-scale: kernel $(uname -r), $(nproc) CPUs, $N snapshots"
run thinsnap --root "$R" pool create --data $DATA --metadata $META --block-size 64k \
  --base-size 1G --force
dmsetup table | grep thin-pool
mkdir -p "$(dirname "$TS_SOCK")"
ts_serve_start "$R"
grep -E '^(Name|VmRSS|VmHWM)' "/proc/$TS_SERVE_PID/status"

step "ctrbench -scale $N on thinsnap serve's socket"
t0=$(ms_now)
"$CTRBENCH" -address "$TS_SOCK" -snapshotter thinsnap -scale "$N" -pid "$TS_SERVE_PID" ||
  { tail -n 20 "$TS_SERVE_LOG"; fail "ctrbench -scale failed"; }
echo "served-scale: wall_ms=$(($(ms_now) - t0))"
grep -E '^(VmRSS|VmHWM|Threads)' "/proc/$TS_SERVE_PID/status"
echo "served-scale: dm devices $(dmsetup ls | wc -l)"
ls -l "$R/meta" 2>/dev/null || true
thinsnap --root "$R" pool status || true

step "thinsnap serve stops; pool check at $N snapshots"
ts_serve_stop
t0=$(ms_now)
run thinsnap --root "$R" pool check
echo "served-scale: pool check wall_ms=$(($(ms_now) - t0))"
echo "served-scale: done"
