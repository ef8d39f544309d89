#!/bin/bash
# vm-tests/bench/docker-drivers.sh: Docker's own devicemapper graph driver against thinsnap's
# graph driver plugin, on the same dockerd binary (Debian's docker.io) in one VM boot, on pools
# of the same shape (64 KiB blocks, skip_block_zeroing, ext4, 512 MiB base; see
# docker-drivers-guest.sh): `docker run --rm IMG true`, `docker create` + `docker rm`,
# `docker commit`, COUNT runs each, median and p95, and thinsnap / devicemapper as ratios.
#
# Usage: vm-tests/bench/docker-drivers.sh [COUNT] [OUT_DIR]
#   COUNT    runs per operation (default 20)
#   OUT_DIR  where docker-drivers.md and the guest's log go
#            (default vm-tests/bench/results/<today>/)
# Needs a built tree (THINSNAP_BUILD_DIR, default <repo>/build) and docker.io, containerd, runc
# on the host (their binaries go into the VM). Under TCG compare the rows of one run, as ratios.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
COUNT=${1:-20}
OUT=${2:-$REPO/vm-tests/bench/results/$(date -u +%Y-%m-%d)}
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
die() {
  echo "docker-drivers.sh: $*" >&2
  exit 1
}
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer, not '$COUNT'"
PEERBENCH=$BUILD_DIR/vm-tests/peerbench
[[ -x $PEERBENCH ]] || die "$PEERBENCH not built: cmake --build $BUILD_DIR"
INCLUDES=()
for b in /usr/sbin/dockerd /usr/bin/docker /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 \
  /usr/sbin/runc "$PEERBENCH"; do
  [[ -x $b ]] || die "$b is missing (apt-get install docker.io)"
  INCLUDES+=(--include "$b")
done
[[ -x $BUILD_DIR/services/thinsnap-serve ]] || die "$BUILD_DIR/services/thinsnap-serve not built"
mkdir -p "$OUT"
LOG=$OUT/docker-drivers.log
export THINSNAP_BUILD_DIR=$BUILD_DIR
"$REPO/vm-tests/run" --mem 4096 --timeout 3600 "${INCLUDES[@]}" \
  "$HERE/docker-drivers-guest.sh" "$COUNT" "$PEERBENCH" | tee "$LOG"

awk -v count="$COUNT" '
  / n=[0-9]+ median=/ {
    split($1, name, "-")
    driver = name[1]; op = substr($1, length(driver) + 2)
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[driver, op, kv[1]] = kv[2] }
    if (!(op in seen)) { seen[op] = 1; ops[++n] = op }
  }
  END {
    print "| operation (" count " runs) | devicemapper median ms | p95 | thinsnap median ms | p95 | thinsnap/dm median | p95 |"
    print "|---|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      o = ops[i]
      dm = v["devicemapper", o, "median"]; dp = v["devicemapper", o, "p95"]
      ts = v["thinsnap", o, "median"]; tp = v["thinsnap", o, "p95"]
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", o, dm, dp, ts, tp,
        (dm > 0 ? sprintf("%.2f", ts / dm) : "-"), (dp > 0 ? sprintf("%.2f", tp / dp) : "-")
    }
  }' "$LOG" | tee "$OUT/docker-drivers.md"
