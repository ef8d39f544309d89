#!/bin/bash
# vm-tests/bench/ops.sh: `thinsnap bench ops` figures in one VM boot, on a direct pool (two
# emulated NVMe namespaces, 64 KiB blocks, an inactive 1 GiB ext4 layer as the origin):
#   - container create (+activate) and remove latency, in-process and through the CLI
#     (p50/p95/max);
#   - open + recovery time of the root (lock, checkpoint, journal replay, reconcile with the pool)
#     and RSS, nearly empty and at SCALE devices;
#   - a scale run to SCALE containers: time per create for the first and the last 100, RSS;
#   - the CLI's create/remove and `pool check` at SCALE devices;
#   - the floor of the scale run: raw create_snap + set_transaction_id to SCALE on a second pool.
#
# Usage: vm-tests/bench/ops.sh [SCALE [COUNT]]   (default 10000 devices, 50 operations)
#        vm-tests/bench/ops.sh --scale-only [--budget S] [--out DIR] [SCALE]   (default 100000)
#        vm-tests/bench/ops.sh --scale-only --render LOG [--out DIR]
# Under TCG the scale run to 10,000 takes several minutes. The log goes to <build>/bench/ops.log.
# --scale-only: only the scale run (vm-tests/bench/ops-scale-guest.sh), timed per 1000 creates
# (p50, p95, RSS), with at most S seconds for it (default 3000; when they end it first, the
# figures are those of the count reached), then open + recovery, `pool check` and the raw
# create_snap floor at that count beside the floor on an empty pool; a table against the targets
# (last 1000 / first 1000 <= 1.2, RSS < 96 MiB, open < 0.5 s, pool check < 60 s) and a chart of
# create latency and RSS against the device count: <build>/bench/ops-scale.{md,svg,log}, copied
# to DIR with --out.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
PEERBENCH=$BUILD_DIR/vm-tests/peerbench
if [[ ${1:-} == --scale-only ]]; then
  shift
  exec "$HERE/ops-scale.sh" "$@"
fi
SCALE=${1:-10000}
COUNT=${2:-50}
for n in "$SCALE" "$COUNT"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "ops.sh: not a positive integer: $n" >&2; exit 2; }
done
[[ -x $PEERBENCH ]] || { echo "ops.sh: $PEERBENCH not built: cmake --build $BUILD_DIR" >&2; exit 1; }

mkdir -p "$BUILD_DIR/bench"
export THINSNAP_BUILD_DIR=$BUILD_DIR
"$REPO/vm-tests/run" --mem 2048 --timeout 5400 --nvme 2G --nvme 512M --nvme 2G \
  --nvme 2G --nvme 512M \
  --include "$PEERBENCH" "$HERE/ops-guest.sh" "$SCALE" "$COUNT" "$PEERBENCH" |
  tee "$BUILD_DIR/bench/ops.log"
