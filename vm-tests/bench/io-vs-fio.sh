#!/bin/sh
# vm-tests/bench/io-vs-fio.sh [--runtime S] [--reps N] [--out DIR]: `thinsnap bench io` against
# fio's io_uring engine, side by side in one VM, on the same devices and jobs.
#
# On the host it boots the test VM (vm-tests/run) with three NVMe namespaces: nvme0n1 is the raw
# device, nvme1n1/nvme2n1 hold a direct-mode pool (64 KiB blocks) with one 1 GiB volume whose
# every block is provisioned first; a loop device over a file in the guest's tmpfs is the third
# target. Each job runs on each target N times, fio and thinsnap alternating (the order flips
# every repetition), time-based over the same 1 GiB (512 MiB for loop) region; medians are
# reported. Jobs: randread 4k qd32, randwrite 4k qd32, read 128k qd8, write 1M qd4, one job each.
#
# fio runs with --fixedbufs --registerfiles (the mechanisms bench io uses). Two pairings with the
# same submission batching: fio's default (iodepth_batch_submit=1) against bench io
# --submit-batch 1, and fio with whole-queue batches against bench io's default. Prints markdown
# tables: bench io/fio per job and target (target: within 5%), and thin/raw for reads (target:
# >= 0.9x). With --out DIR the tables and the raw results also land in DIR.
set -eu

if [ "${THINSNAP_VM:-}" != 1 ]; then
  # ---- host ----
  here=$(cd "$(dirname "$0")" && pwd)
  repo=$(dirname "$(dirname "$here")")
  runtime=5 reps=3 out=""
  while [ $# -gt 0 ]; do
    case $1 in
      --runtime) runtime=$2; shift 2 ;;
      --reps) reps=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      *) echo "usage: $0 [--runtime S] [--reps N] [--out DIR]" >&2; exit 2 ;;
    esac
  done
  set -- --nvme 2G --nvme 2G --nvme 128M --mem 2048 --cpus 2 --timeout 7200
  [ -n "$out" ] && set -- "$@" --out "$out"
  exec "$repo/vm-tests/run" "$@" "$here/io-vs-fio.sh" guest "$runtime" "$reps"
fi

# ---- guest ----
. /vm/lib/common.sh
RT=${2:-5}
REPS=${3:-3}
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }

step "targets"
run ts pool create --data /dev/nvme1n1 --metadata /dev/nvme2n1 --force --block-size 64k --base-size 64M
run ts volume create v --size 1G --fs none
THIN=$(ts activate v) || fail "activate v"
RAW=/dev/nvme0n1
truncate -s 512M /tmp/loop.img
LOOP=$(losetup -f --show /tmp/loop.img) || fail "losetup"
# Write every block first: thin reads of unprovisioned blocks and reads of holes in the host's
# sparse image files would be free and measure nothing.
for t in "$THIN:1G" "$RAW:1G" "$LOOP:512M"; do
  run thinsnap bench io --target "${t%:*}" --rw write --bs 1M --iodepth 4 --size "${t#*:}"
done
ts pool status

# fio_run DEV SIZE RW BS QD [FIO ARGS...] -> "IOPS P50_US P99_US"
fio_run() {
  _d=$1 _s=$2 _rw=$3 _bs=$4 _qd=$5
  shift 5
  fio --name=j --filename="$_d" --size="$_s" --rw="$_rw" --bs="$_bs" --iodepth="$_qd" --numjobs=1 \
    --ioengine=io_uring --direct=1 --fixedbufs --registerfiles --time_based --runtime="$RT" \
    --ramp_time=1 "$@" --minimal | awk -F';' -v w="$_rw" '{
      o = (w ~ /write/) ? 41 : 0        # terse v3: write fields follow the 41 read fields
      p50 = $(24 + o); p99 = $(30 + o); sub(/.*=/, "", p50); sub(/.*=/, "", p99)
      printf "%.0f %s %s\n", $(8 + o), p50, p99 }'
}
# fio with batches like bench io's default: queue every free slot, one io_uring_enter, reap all.
fioB_run() { fio_run "$@" --iodepth_batch_submit="$5" --iodepth_batch_complete_min=1 --iodepth_batch_complete_max="$5"; }
# ts_run DEV SIZE RW BS QD [BENCH ARGS...] -> "IOPS P50_US P99_US"
ts_run() {
  _d=$1 _s=$2 _rw=$3 _bs=$4 _qd=$5
  shift 5
  thinsnap --json bench io --target "$_d" --size "$_s" --rw "$_rw" --bs "$_bs" --iodepth "$_qd" \
    --runtime "$RT" --ramp-time 1 "$@" | awk -v w="$_rw" '
      /"read": \{/ { d = "read" } /"write": \{/ { d = "write" }
      d != "" && /"iops"/ { gsub(/[",]/, ""); iops[d] = $2 }
      d != "" && /"50.000000"/ { gsub(/[",]/, ""); p50[d] = $2 / 1000 }
      d != "" && /"99.000000"/ { gsub(/[",]/, ""); p99[d] = $2 / 1000 }
      END { d = (w ~ /write/) ? "write" : "read"; printf "%.0f %.1f %.1f\n", iops[d], p50[d], p99[d] }'
}
# bench io submitting one I/O per io_uring_enter, like fio's default iodepth_batch_submit=1.
ts1_run() { ts_run "$@" --submit-batch 1; }
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
# counters DEV -> "completed I/Os of DEV" "busy CPU ticks of the guest (user+nice+system+irq+softirq)"
# (by major:minor: without udev, /dev/mapper/NAME is a node of its own, not a link to dm-N)
counters() {
  set -- $(stat -L -c '%t %T' "$1")
  _mm=$(printf '%d:%d' "0x$1" "0x$2")
  echo "$(awk '{ print $1 + $5 }' "/sys/dev/block/$_mm/stat") $(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat)"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

JOBS="randread:4k:32 randwrite:4k:32 read:128k:8 write:1M:4"
: > results.txt
for dev in raw thin loop; do
  case $dev in
    raw) D=$RAW S=1G ;; thin) D=$THIN S=1G ;; loop) D=$LOOP S=512M ;;
  esac
  for job in $JOBS; do
    rw=${job%%:*} rest=${job#*:}
    bs=${rest%%:*} qd=${rest#*:}
    i=1
    while [ $i -le "$REPS" ]; do
      if [ $((i % 2)) -eq 1 ]; then order="fio ts1 fioB ts"; else order="ts fioB ts1 fio"; fi
      for tool in $order; do
        before=$(counters "$D") t0=$(ms_now)
        r=$(${tool}_run "$D" "$S" "$rw" "$bs" "$qd") || fail "$tool $rw $bs on $dev"
        t1=$(ms_now) after=$(counters "$D")
        # device I/Os per second of the command's wall time; guest CPU (all vCPUs) per device I/O
        extra=$(echo "$before $after" | awk -v ms=$((t1 - t0)) -v hz="$HZ" '{
          ios = $3 - $1; busy = ($4 - $2) / hz
          printf "%.0f %.1f", ios * 1000 / ms, ios ? busy * 1e6 / ios : 0 }')
        echo "$dev $rw $bs $qd $tool $r $extra" | tee -a results.txt
      done
      i=$((i + 1))
    done
  done
done

# pick DEV RW TOOL FIELD -> median of FIELD (4=IOPS 5=p50 6=p99... after the 5 key fields)
pick() { awk -v d="$1" -v r="$2" -v t="$3" -v f="$4" '$1 == d && $2 == r && $5 == t { print $f }' results.txt | median; }
{
  echo
  echo "### bench io vs fio (io_uring), medians of $REPS runs of ${RT}s, 1 job"
  echo
  echo "Pairs with the same submission batching: fio's default (one I/O per io_uring_enter) vs"
  echo "\`bench io --submit-batch 1\`; and fio --iodepth_batch_submit=QD --iodepth_batch_complete_max=QD"
  echo "vs bench io's default (all free slots per io_uring_enter). IOPS; latency p50/p99 in us."
  echo
  echo "| target | job | fio | bench io -b1 | ratio | fio batched | bench io | ratio | p50/p99 fio | p50/p99 bench io -b1 | p50/p99 fio batched | p50/p99 bench io |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for dev in raw thin loop; do
    for job in $JOBS; do
      rw=${job%%:*} rest=${job#*:}
      f=$(pick $dev "$rw" fio 6) t1=$(pick $dev "$rw" ts1 6) fb=$(pick $dev "$rw" fioB 6) t=$(pick $dev "$rw" ts 6)
      lat() { echo "$(pick $dev "$rw" "$1" 7)/$(pick $dev "$rw" "$1" 8)"; }
      echo "| $dev | $rw ${rest%%:*} qd${rest#*:} | $f | $t1 | $(ratio "$t1" "$f") | $fb | $t | $(ratio "$t" "$fb") | $(lat fio) | $(lat ts1) | $(lat fioB) | $(lat ts) |"
    done
  done
  echo
  echo "### cross-check: device-counted I/Os per second of wall time (whole command, startup and ramp"
  echo "included) and guest CPU time per device I/O, all vCPUs, in us (what each tool costs)"
  echo
  echo "| target | job | fio dev IOPS | bench io -b1 dev IOPS | fio batched dev IOPS | bench io dev IOPS | CPU us/IO fio | bench io -b1 | fio batched | bench io |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for dev in raw thin loop; do
    for job in $JOBS; do
      rw=${job%%:*} rest=${job#*:}
      echo "| $dev | $rw ${rest%%:*} qd${rest#*:} | $(pick $dev "$rw" fio 9) | $(pick $dev "$rw" ts1 9) | $(pick $dev "$rw" fioB 9) | $(pick $dev "$rw" ts 9) | $(pick $dev "$rw" fio 10) | $(pick $dev "$rw" ts1 10) | $(pick $dev "$rw" fioB 10) | $(pick $dev "$rw" ts 10) |"
    done
  done
  echo
  echo "### reads of provisioned blocks: thin volume vs raw NVMe namespace (target >= 0.9x)"
  echo
  echo "| job | raw IOPS (bench io) | thin IOPS (bench io) | thin/raw bench io | thin/raw fio |"
  echo "|---|---:|---:|---:|---:|"
  for job in randread:4k:32 read:128k:8; do
    rw=${job%%:*} rest=${job#*:}
    rt=$(pick raw "$rw" ts 6) tt=$(pick thin "$rw" ts 6) rf=$(pick raw "$rw" fio 6) tf=$(pick thin "$rw" fio 6)
    echo "| $rw ${rest%%:*} qd${rest#*:} | $rt | $tt | $(ratio "$tt" "$rt") | $(ratio "$tf" "$rf") |"
  done
} > io-vs-fio.md
cat io-vs-fio.md
[ -n "${THINSNAP_OUT_DEV:-}" ] && vm-out io-vs-fio.md results.txt

losetup -d "$LOOP"
run ts pool check
run ts pool deactivate
thin_check_pool_meta /dev/nvme2n1
echo "io-vs-fio: ok"
