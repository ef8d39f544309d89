#!/bin/sh
# vm-tests/bench/cow.sh --out DIR [BENCH COW ARGS...]: the full `thinsnap bench cow` run on NVMe.
#
# On the host it makes two fully allocated NVMe images (2 GiB data, 256 MiB metadata; allocated
# up front so that the host file system's first-touch cost is not mistaken for dm-thin's), boots
# the test VM (vm-tests/run) with them and runs, in the guest,
#   thinsnap bench cow --data /dev/nvme0n1 --metadata /dev/nvme1n1 --scratch /tmp/cow --force
# which creates one scratch pool per block size (64K..1M) on those namespaces, measures first,
# owned and CoW writes for I/O sizes 4K..1M and 4K reads against snapshot chain depth 1..64, and
# then the same patterns on the raw data namespace. The table is printed; cow.txt, cow.csv and
# cow.svg land in DIR, and the same rendered with the minimum latency (--stat min) in DIR/min.
# Extra arguments go to `bench cow` (e.g. --ios 128, --iodepth 4, --small, --reps 5).
set -eu

if [ "${THINSNAP_VM:-}" != 1 ]; then
  # ---- host ----
  here=$(cd "$(dirname "$0")" && pwd)
  repo=$(dirname "$(dirname "$here")")
  if [ "${1:-}" != --out ] || [ -z "${2:-}" ]; then
    echo "usage: $0 --out DIR [BENCH COW ARGS...]" >&2
    exit 2
  fi
  out=$2
  shift 2
  mkdir -p "$out"
  images=$(mktemp -d "${TMPDIR:-/tmp}/thinsnap-cow.XXXXXX")
  trap 'rm -rf "$images"' EXIT
  fallocate -l 2G "$images/data.img"
  fallocate -l 256M "$images/meta.img"
  "$repo/vm-tests/run" --nvme "$images/data.img" --nvme "$images/meta.img" --mem 2048 --cpus 2 \
    --timeout 7200 --out "$out" "$here/cow.sh" guest "$@"
  # The same rows with the minimum latency: on a loaded or emulated host, where a descheduled
  # I/O thread adds milliseconds to a share of the I/Os, it shows the kernel path's own cost.
  reps=$(sed -n 's/.*median of \([0-9]*\) runs.*/\1/p;q' "$out/cow.txt")
  "${THINSNAP_BIN:-${THINSNAP_BUILD_DIR:-$repo/build}/cli/thinsnap}" bench cow \
    --render "$out/cow.csv" --reps "${reps:-3}" --stat min --out "$out/min" > /dev/null
  cat "$out/min/cow.txt"
  echo "cow.sh: p50 table, CSV and chart in $out/cow.{txt,csv,svg}; minimum latency in $out/min/"
  exit 0
fi

# ---- guest ----
. /vm/lib/common.sh
shift  # "guest"
t0=$(ms_now)
run thinsnap bench cow --data /dev/nvme0n1 --metadata /dev/nvme1n1 --scratch /tmp/cow --force \
  --out /tmp/cowout "$@"
echo "bench cow took $((($(ms_now) - t0) / 1000)) s"
[ -z "$(dmsetup ls 2>/dev/null | grep thinsnap)" ] || fail "scratch devices left behind"
vm-out /tmp/cowout/cow.txt /tmp/cowout/cow.csv /tmp/cowout/cow.svg
