#!/bin/sh
# Description: guest half of vm-tests/bench/benchsuite.sh (run it through that script).
# Usage: benchsuite-guest.sh BENCH_TEST BENCHTIME [CONTENDER...]
#   (default: thinsnap devmapper overlay native)
# Runs containerd's snapshotter benchmark suite (the test binary BENCH_TEST) once per contender
# and prints `go test -bench`'s lines, which the host tabulates:
#   BenchmarkNAME/run-2  N  NS ns/op  MB MB/s   and   BenchmarkNAME/prepare|write|commit  N  NS ns/op
#   /dev/nvme0n1 = pool data, /dev/nvme1n1 = pool metadata, /dev/nvme2n1 = an ext4 state
#   filesystem holding the overlay and native snapshotters' roots, thinsnap's root and the
#   devmapper snapshotter's root (its metadata database), for every contender alike.
# thinsnap and devmapper each get a fresh pool on the same two devices, one after the other:
# 64 KiB blocks, skip_block_zeroing, a 16 MiB ext4 base (the suite's own BaseImageSize "16Mb" for
# devmapper; thinsnap's --base-size 16M).
set -eu
# shellcheck disable=SC1091 # the harness provides them inside the guest
. /vm/lib/common.sh
# shellcheck disable=SC1091
. /vm/lib/containerd.sh

BENCH=$1 BENCHTIME=$2
shift 2
[ $# -gt 0 ] || set -- thinsnap devmapper overlay native
DATA=/dev/nvme0n1 META=/dev/nvme1n1 STATE_DEV=/dev/nvme2n1
BLOCK_SECTORS=128 # 64 KiB
trap ctd_cleanup EXIT

wipe_devices() {
  dmsetup remove_all 2>/dev/null || true
  dd if=/dev/zero of=$META bs=1M count=8 conv=fsync 2>/dev/null
  dd if=/dev/zero of=$DATA bs=1M count=8 conv=fsync 2>/dev/null
}

# bench NAME ARGS...: containerd's BenchmarkNAME, once; fails unless it ran and passed.
bench() {
  _name=$1
  shift
  _out=/tmp/bench-$_name.out
  echo "+ $BENCH -test.run '^\$' -test.bench '^Benchmark$_name\$' -test.benchtime $BENCHTIME $*"
  _t0=$(ms_now)
  "$BENCH" -test.run '^$' -test.bench "^Benchmark$_name\$" -test.benchtime "$BENCHTIME" \
    -test.count 1 "$@" >"$_out" 2>&1 || { cat "$_out"; fail "Benchmark$_name failed"; }
  cat "$_out"
  grep -q "^Benchmark$_name/run" "$_out" || fail "Benchmark$_name did not run (skipped?)"
  echo "benchsuite: $_name wall_ms=$(($(ms_now) - _t0))"
}

run_thinsnap() {
  step "thinsnap: thinsnap serve, through containerd's proxy snapshotter client"
  wipe_devices
  R=/state/ts
  run thinsnap --root "$R" pool create --data $DATA --metadata $META --block-size 64k \
    --base-size 16M --force
  dmsetup table | grep thin-pool
  mkdir -p "$(dirname "$TS_SOCK")"
  ts_serve_start "$R"
  bench Thinsnap -thinsnap.address "$TS_SOCK"
  thinsnap --root "$R" pool status
  ts_serve_stop
  run thinsnap --root "$R" pool check
  run thinsnap --root "$R" pool deactivate
}

run_devmapper() {
  step "containerd's devmapper snapshotter (its Go package)"
  wipe_devices
  run dmsetup create ctdpool --table \
    "0 $(blockdev --getsz $DATA) thin-pool $META $DATA $BLOCK_SECTORS 1024 1 skip_block_zeroing"
  dmsetup table | grep thin-pool
  bench DeviceMapper -dm.thinPoolDev ctdpool -dm.rootPath /state/devmapper
  dmsetup status ctdpool
  dmsetup remove_all
}

run mkfs.ext4 -q -F $STATE_DEV
mkdir -p /state
run mount $STATE_DEV /state
echo "benchsuite: kernel $(uname -r), $(nproc) CPUs, benchtime $BENCHTIME"
for sn in "$@"; do
  case $sn in
    thinsnap) run_thinsnap ;;
    devmapper) run_devmapper ;;
    overlay) step "containerd's overlay snapshotter (on the ext4 state filesystem)"
      bench Overlay -overlay.rootPath /state/overlay ;;
    native) step "containerd's native snapshotter (on the ext4 state filesystem)"
      bench Native -native.rootPath /state/native ;;
    *) fail "unknown contender $sn" ;;
  esac
done
echo "benchsuite: done"
