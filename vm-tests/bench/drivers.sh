#!/bin/bash
# vm-tests/bench/drivers.sh --out DIR [--small] [--cuts N] [BENCH DRIVERS ARGS...]: the storage-driver
# comparison in the test VM, on emulated NVMe.
#
# 1. One boot runs, in the guest,
#      thinsnap bench drivers --device /dev/nvme0n1 --metadata-device /dev/nvme1n1 --dir /tmp/drv
#    which reformats nvme0n1 for each driver in turn (thinsnap-ext4 and thinsnap-xfs as direct
#    pools with their metadata on nvme1n1; overlay, btrfs and plain on nvme0n1) and measures
#    create, read, write, copy-up, page cache and disk space (bench/drivers_bench.h).
# 2. Stability: N power cuts (default 3; --small: 1). Every driver gets its own namespaces and a
#    container; writers add fsync'd files to all of them at once, and the guest is reset
#    (sysrq b: no sync, no unmount) a few seconds in. The next boot replays the journals, runs
#    each filesystem's own check (e2fsck -fn, xfs_repair -n, btrfs check; thinsnap also pool check
#    and thin_check) and compares every file whose fsync had returned before the cut
#    (vm-tests/bench/drivers-stability-guest.sh). N cuts take N + 1 boots.
# 3. On the host, `thinsnap bench drivers --render` merges the two CSVs and writes DIR/drivers.txt,
#    drivers.csv, drivers-radar.svg and drivers-<axis>.svg; DIR/stability.txt has each cut's result.
# --small is the ctest-sized run (vm-tests/scenarios/bench_drivers.sh runs the guest half itself).
# Extra arguments go to `bench drivers` (e.g. --drivers overlay,btrfs --containers 4).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$(dirname "$here")")
bin=${THINSNAP_BIN:-${THINSNAP_BUILD_DIR:-$repo/build}/cli/thinsnap}
usage() {
  echo "usage: $0 --out DIR [--small] [--cuts N] [BENCH DRIVERS ARGS...]" >&2
  exit 2
}
[[ ${1:-} == --out && -n ${2:-} ]] || usage
out=$2
shift 2
small=0 cuts=3
bench_args=()
while (($# > 0)); do
  case $1 in
    --small) small=1 cuts=1 bench_args+=(--small) ;;
    --cuts)
      [[ ${2:-} =~ ^[0-9]+$ ]] || usage
      cuts=$2
      shift
      ;;
    *) bench_args+=("$1") ;;
  esac
  shift
done
mkdir -p "$out"
images=$(mktemp -d "${TMPDIR:-/tmp}/thinsnap-drivers.XXXXXX")
trap 'rm -rf "$images"' EXIT
t_start=$(date +%s)

# ---- 1. the measurements ----
# Allocated up front, so that the host filesystem's first touch is not charged to a driver.
if ((small)); then size=3G mem=2048; else size=20G mem=4096; fi
fallocate -l "$size" "$images/data.img"
fallocate -l 1G "$images/meta.img"
"$repo/vm-tests/run" --nvme "$images/data.img" --nvme "$images/meta.img" --mem "$mem" --cpus 2 \
  --timeout 14400 --out "$images/bench" --log "$images/bench-console.log" \
  "$here/drivers-bench-guest.sh" "${bench_args[@]}"
rm -f "$images/data.img" "$images/meta.img"
t_bench=$(date +%s)

# ---- 2. power cuts ----
stab_args=(--nvme 1G --nvme 64M --nvme 1G --nvme 64M --nvme 1G --nvme 1G --nvme 1G --nvme 256M)
disks=()
for i in 0 1 2 3 4 5 6 7; do
  sz=${stab_args[$((2 * i + 1))]}
  truncate -s "$sz" "$images/s$i.img"
  disks+=(--nvme "$images/s$i.img")
done
head -c 2M /dev/urandom >"$images/pattern"
acks=""
: >"$out/stability.txt"
for ((boot = 1; boot <= cuts + 1; boot++)); do
  mode="cut"
  ((boot <= cuts)) || mode="check"
  log="$images/boot$boot.out"
  status=0
  "$repo/vm-tests/run" "${disks[@]}" --include "$images/pattern" --mem 2048 --cpus 2 \
    --timeout 900 --log "$images/boot$boot.console" \
    "$here/drivers-stability-guest.sh" "$boot" "$mode" "$images/pattern" "$acks" >"$log" 2>&1 ||
    status=$?
  grep -E '^(RESULT|ACKED) ' "$log" >>"$out/stability.txt" || true
  if [[ $mode == check ]] && ((status != 0)); then
    cat "$log" >&2
    echo "drivers.sh: the final check boot failed (status $status)" >&2
    exit 1
  fi
  if [[ $mode == cut ]] && ! grep -q '^CUTTING' "$log"; then
    cat "$log" >&2
    echo "drivers.sh: boot $boot never reached its power cut" >&2
    exit 1
  fi
  # The acknowledged files of this boot's writers, per driver: "drv=boot:max,...".
  acks="$acks$(awk -v b="$boot" '$1 == "ACK" { max[$2] = $3 } END { for (d in max) printf "%s=%s:%s,", d, b, max[d] }' "$log")"
  echo "drivers.sh: boot $boot ($mode) done, status $status" >&2
done
t_stab=$(date +%s)
# RESULT DRIVER BOOT clean|dirty LOST CHECKED
awk '$1 == "RESULT" { runs[$2]++; if ($4 == "clean") clean[$2]++; lost[$2] += $5 }
  END { print "driver,axis,metric,value,unit,better"
        for (d in runs) {
          printf "%s,stability,stability_clean_pct,%g,%%,higher\n", d, 100 * clean[d] / runs[d]
          printf "%s,stability,stability_lost_files,%d,files,lower\n", d, lost[d]
        } }' "$out/stability.txt" >"$images/stability.csv"

# ---- 3. the report ----
"$bin" bench drivers --render "$images/bench/drivers.csv" --render "$images/stability.csv" \
  --note "stability: $cuts power cut(s) per driver (guest reset by sysrq b during fsync'd writes), all drivers cut at once" \
  --out "$out"
cp "$images/bench/drivers-bench.log" "$out/" 2>/dev/null || true
echo "drivers.sh: measurements $((t_bench - t_start)) s, power cuts $((t_stab - t_bench)) s, total $(($(date +%s) - t_start)) s" |
  tee "$out/durations.txt"
