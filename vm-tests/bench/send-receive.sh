#!/bin/bash
# vm-tests/bench/send-receive.sh: what send/receive costs against dd of the whole device, in one
# VM boot: a 4 GiB raw volume with 1 GiB written (16 x 64 MiB spread over the device), snapshot
# s1; full send; then 1% of the device's blocks changed (164 x 256 KiB, spread), snapshot s2,
# incremental send from s1. Each send is timed to /dev/null beside `dd iflag=direct bs=4M` of the
# whole device to /dev/null, and each stream is received from a file into a second pool.
#
# Usage: vm-tests/bench/send-receive.sh [OUT_DIR]
# The table goes to stdout and to OUT_DIR/send-receive.md (default: <build>/bench/).
# Under TCG only the ratios between rows of one run mean anything.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
OUT_DIR=${1:-$BUILD_DIR/bench}
mkdir -p "$OUT_DIR"
export THINSNAP_BUILD_DIR=$BUILD_DIR
"$REPO/vm-tests/run" --mem 2048 --timeout 3000 --nvme 8G --nvme 8G \
  "$HERE/send-receive-guest.sh" | tee "$OUT_DIR/send-receive.log"
sed -n '/^| /p' "$OUT_DIR/send-receive.log" > "$OUT_DIR/send-receive.md"
echo "table: $OUT_DIR/send-receive.md"
