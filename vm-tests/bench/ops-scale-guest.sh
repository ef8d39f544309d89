#!/bin/sh
# Description: guest half of `vm-tests/bench/ops.sh --scale-only` (run it through that script).
# Usage: ops-scale-guest.sh SCALE BUDGET PEERBENCH [CTRBENCH]
#   /dev/nvme0n1 = pool data, /dev/nvme1n1 = pool metadata (1 GiB), /dev/nvme2n1 = ext4 for the
#   root; /dev/nvme3n1 + /dev/nvme4n1: a second pool for the raw-message floor.
# The in-process scale run (`bench ops --scale SCALE --window 1000 --every 1000`) gets BUDGET
# seconds; if that ends it first, the run stops there (SIGTERM: the engine is crash-safe, the next
# open recovers) and the figures are those of the devices it reached (its progress lines: p50 and
# p95 of every 1000 creates, RSS). Then, at the count reached: open + recovery (`bench ops
# --open`), `pool check`, and the raw create_snap + set_transaction_id floor on the same pool,
# next to the floor on an empty pool measured before the run. With CTRBENCH: `thinsnap serve` on
# that root, its VmRSS with the whole catalog loaded and no device active, then 1000 served
# Prepare+Mounts (ctrbench -scale 1000, each an active device) and its VmRSS after them: the
# daemon's memory per catalog record apart from its memory per active snapshot.
set -eu
# shellcheck disable=SC1091 # the harness provides it inside the guest
. /vm/lib/common.sh

SCALE=$1 BUDGET=$2 PB=$3 CTRBENCH=${4:-}
R=/state/ts
ts() { thinsnap --root "$R" "$@"; }

run mkfs.ext4 -q -F /dev/nvme2n1
mkdir -p /state
run mount /dev/nvme2n1 /state
echo "ops-scale: kernel $(uname -r), $(nproc) CPUs, scale $SCALE, budget ${BUDGET} s"
run ts pool create --data /dev/nvme0n1 --metadata /dev/nvme1n1 --block-size 64k --base-size 1G \
  --force
run ts layer create L
run ts layer seal L
ORIGIN=$(ts --json inspect L | sed -n 's/.*"DeviceId": *\([0-9]*\).*/\1/p' | head -n 1)
echo "ops-scale: layer L is thin device $ORIGIN"

step "open + recovery of the root, nearly empty catalog"
run ts bench ops --open 20

step "the floor on an empty pool: raw create_snap + set_transaction_id, 300 times"
run dmsetup create floorpool --table \
  "0 $(blockdev --getsz /dev/nvme3n1) thin-pool /dev/nvme4n1 /dev/nvme3n1 128 1024 1 skip_block_zeroing"
run dmsetup message floorpool 0 "create_thin 0"
"$PB" scale floorpool 0 1 300 | sed 's/^floor-scale-/floor-empty-/'
run dmsetup remove floorpool

step "scale run to $SCALE devices (budget $BUDGET s)"
t0=$(ms_now)
rc=0
echo "+ ts bench ops --from L --scale $SCALE --window 1000 --every 1000"
timeout "$BUDGET" thinsnap --root "$R" bench ops --from L --scale "$SCALE" --window 1000 \
  --every 1000 || rc=$?
echo "ops-scale: scale run wall_ms=$(($(ms_now) - t0)) rc=$rc"
# busybox timeout: the command itself gets SIGTERM (143); coreutils timeout exits 124.
case $rc in
  0) ;;
  124 | 143) echo "ops-scale: the budget of $BUDGET s ended the scale run" ;;
  *) fail "bench ops --scale failed ($rc)" ;;
esac

step "open + recovery of the root at the count reached"
run ts bench ops --open 10
ls -l $R/meta

step "pool check at the count reached"
t0=$(ms_now)
run ts pool check
echo "ops-scale: pool check wall_ms=$(($(ms_now) - t0))"

# daemon_memory: the serve daemon's memory lines, labelled.
daemon_memory() {
  grep -E '^(VmRSS|VmHWM|RssAnon|RssFile|Threads)' "/proc/$TS_SERVE_PID/status" | tr -s ' \t' ' ' |
    sed "s/^/ops-scale: serve $1: /"
}

if [ -n "$CTRBENCH" ]; then
  step "thinsnap serve on the root at the count reached: memory per record, per active snapshot"
  # shellcheck disable=SC1091
  . /vm/lib/containerd.sh
  trap ctd_cleanup EXIT
  mkdir -p "$(dirname "$TS_SOCK")"
  t0=$(ms_now)
  ts_serve_start "$R"
  echo "ops-scale: serve start to socket ms=$(($(ms_now) - t0))"
  sleep 1
  daemon_memory "catalog loaded, nothing active"
  "$CTRBENCH" -address "$TS_SOCK" -snapshotter thinsnap -as served -scale 1000 -every 250 \
    -walks 1 -pid "$TS_SERVE_PID" || { tail -n 20 "$TS_SERVE_LOG"; fail "ctrbench -scale failed"; }
  daemon_memory "after 1000 served Prepare+Mounts"
  ts_serve_stop
fi

step "the floor at the count reached: 300 raw create_snap + set_transaction_id on the same pool"
POOL=$(dmsetup ls --target thin-pool | awk 'NR == 1 { print $1 }')
"$PB" scale "$POOL" "$ORIGIN" 16000000 300 | sed 's/^floor-scale-/floor-full-/'
echo "ops-scale: done"
