#!/bin/sh
# vm-tests/bench/io-profile.sh [--reps N]: where the time goes when io-vs-fio.sh's figures
# disagree, in one VM: the guest's clocksource; fio randread 4k qd32 on raw NVMe as is, with
# --clocksource=cpu and with --gtod_reduce=1 (fewer clock reads per I/O), next to bench io; then
# bench io reads (4k random qd32, 128k sequential qd8) on the raw namespace and on a provisioned
# thin volume (64 KiB blocks), each with the guest CPU time per I/O and the I/Os counted by the
# thin device and by the NVMe namespace under it. Prints one line per run.
set -eu
if [ "${THINSNAP_VM:-}" != 1 ]; then
  here=$(cd "$(dirname "$0")" && pwd)
  reps=3
  [ "${1:-}" = --reps ] && reps=$2
  exec "$(dirname "$(dirname "$here")")/vm-tests/run" --nvme 1G --nvme 1G --nvme 128M --mem 2048 \
    --timeout 3600 "$here/io-profile.sh" guest "$reps"
fi
. /vm/lib/common.sh
REPS=${2:-3}
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" \
  "(available: $(cat /sys/devices/system/clocksource/clocksource0/available_clocksource))"
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }
run ts pool create --data /dev/nvme1n1 --metadata /dev/nvme2n1 --force --block-size 64k --base-size 16M > /dev/null
run ts volume create v --size 512M --fs none > /dev/null
THIN=$(ts activate v)
RAW=/dev/nvme0n1
for d in "$THIN" "$RAW"; do thinsnap bench io --target "$d" --rw write --bs 1M --iodepth 4 --size 512M > /dev/null; done

iocount() {  # completed I/Os of a block device, by major:minor
  set -- $(stat -L -c '%t %T' "$1")
  awk '{ print $1 + $5 }' "/sys/dev/block/$(printf '%d:%d' "0x$1" "0x$2")/stat"
}
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# measure LABEL DEV CMD...: runs CMD; prints its IOPS figure, device I/Os, data-namespace I/Os and
# guest CPU us per device I/O
measure() {
  _label=$1 _dev=$2
  shift 2
  _d0=$(iocount "$_dev") _n0=$(iocount /dev/nvme1n1) _c0=$(busy)
  _r=$("$@")
  _d1=$(iocount "$_dev") _n1=$(iocount /dev/nvme1n1) _c1=$(busy)
  echo "$_label: IOPS $_r; device I/Os $((_d1 - _d0)), data-namespace I/Os $((_n1 - _n0)); guest CPU $(awk -v c=$((_c1 - _c0)) -v n=$((_d1 - _d0)) -v hz="$HZ" 'BEGIN { printf "%.1f", n ? c / hz * 1e6 / n : 0 }') us per device I/O"
}
fio_iops() {
  fio --name=j --filename="$1" --size=512M --rw="$2" --bs="$3" --iodepth="$4" --ioengine=io_uring \
    --direct=1 --fixedbufs --registerfiles --time_based --runtime=4 --ramp_time=1 $5 --minimal |
    awk -F';' '{ print $8 }'
}
ts_iops() {
  thinsnap bench io --target "$1" --size 512M --rw "$2" --bs "$3" --iodepth "$4" --runtime 4 \
    --ramp-time 1 $5 2>/dev/null | awk '$1 == "read" && $2 ~ /^[0-9]+$/ { print $3 }'
}
i=1
while [ $i -le "$REPS" ]; do
  step "repetition $i"
  measure "fio randread 4k qd32 raw, defaults" $RAW fio_iops $RAW randread 4k 32 ""
  measure "fio randread 4k qd32 raw, --clocksource=cpu" $RAW fio_iops $RAW randread 4k 32 --clocksource=cpu
  measure "fio randread 4k qd32 raw, --gtod_reduce=1" $RAW fio_iops $RAW randread 4k 32 --gtod_reduce=1
  measure "bench io randread 4k qd32 raw, --submit-batch 1" $RAW ts_iops $RAW randread 4k 32 "--submit-batch 1"
  measure "bench io randread 4k qd32 raw" $RAW ts_iops $RAW randread 4k 32 ""
  measure "bench io randread 4k qd32 thin" "$THIN" ts_iops "$THIN" randread 4k 32 ""
  measure "bench io read 128k qd8 raw" $RAW ts_iops $RAW read 128k 8 ""
  measure "bench io read 128k qd8 thin" "$THIN" ts_iops "$THIN" read 128k 8 ""
  i=$((i + 1))
done
run ts pool check > /dev/null
run ts pool deactivate
thin_check_pool_meta /dev/nvme2n1
