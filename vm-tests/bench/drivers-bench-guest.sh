#!/bin/sh
# Description: guest half of vm-tests/bench/drivers.sh's measurements (run it through that script).
# Usage: drivers-bench-guest.sh [BENCH DRIVERS ARGS...]
#   /dev/nvme0n1: every driver's device in turn; /dev/nvme1n1: thinsnap's pool metadata.
set -eu
# shellcheck disable=SC1091 # the harness provides it inside the guest
. /vm/lib/common.sh
t0=$(ms_now)
thinsnap bench drivers --device /dev/nvme0n1 --metadata-device /dev/nvme1n1 --dir /tmp/drv \
  --out /tmp/drvout "$@" 2>/tmp/drvout-log.txt || {
  tail -30 /tmp/drvout-log.txt
  fail "bench drivers failed"
}
echo "bench drivers took $((($(ms_now) - t0) / 1000)) s"
dmsetup ls 2>/dev/null | grep -q thinsnap && fail "scratch devices left behind"
grep -q /tmp/drv /proc/mounts && fail "a mount was left behind"
cp /tmp/drvout-log.txt /tmp/drvout/drivers-bench.log
vm-out /tmp/drvout/drivers.csv /tmp/drvout/drivers.txt /tmp/drvout/drivers-bench.log
