#!/bin/bash
# vm-tests/bench/served-scale.sh: `thinsnap serve` at COUNT snapshots, through containerd's proxy
# snapshotter client straight on thinsnap serve's socket (no containerd in between), in one VM
# boot: one committed parent, COUNT Prepare+Mounts from it, all kept (each an active thin device
# on a pool of 64 KiB blocks, skip_block_zeroing, 1 GiB ext4 base, two emulated NVMe
# namespaces), then three List (Walk) calls over all of them and `pool check`.
# The client is vm-tests/bench/ctrbench -scale (Go, built static in GOPATH mode as in
# snapshotters.sh); the daemon's VmRSS and VmHWM are read from /proc/PID/status every 100
# snapshots and at the end.
#
# Usage: vm-tests/bench/served-scale.sh [--out DIR] [COUNT]   (default 10000)
#        vm-tests/bench/served-scale.sh --render LOG [--out DIR]   (table and chart again)
# Prints the guest's log and a markdown table: Prepare+Mounts median/p95 of the first and the
# last 100, their ratio, RSS at COUNT, the Walk times, against the targets (last/first <= 1.2,
# RSS < 64 MiB, one Walk < 0.5 s); writes build/bench/served-scale.{md,svg,log} (the chart:
# median and p95 per 100 snapshots, and RSS, against the snapshot count), and with --out DIR
# copies them there. Needs a built tree (THINSNAP_BUILD_DIR, default <repo>/build, with the
# thinsnap-serve daemon) and Go with Debian's containerd source (scripts/install-deps).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
CACHE=${THINSNAP_VM_CACHE:-$BUILD_DIR/vm-cache}
OUT="" COUNT=10000 RENDER=""

die() {
  echo "served-scale.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
    --out) (($# >= 2)) || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --render) (($# >= 2)) || die "--render needs a log"; RENDER=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) COUNT=$1; shift ;;
  esac
done
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer, not '$COUNT'"
B=$BUILD_DIR/bench
LOG=$B/served-scale.log TABLE=$B/served-scale.md SVG=$B/served-scale.svg
mkdir -p "$B"

run_vm() {
  THINSNAP_BIN=${THINSNAP_BIN:-$BUILD_DIR/cli/thinsnap}
  SERVE_BIN=${THINSNAP_SERVE_BIN:-$(dirname "$THINSNAP_BIN")/../services/thinsnap-serve}
  [[ -x $THINSNAP_BIN ]] || die "$THINSNAP_BIN not built"
  [[ -x $SERVE_BIN ]] || die "$SERVE_BIN (the daemon of thinsnap serve) not built"
  command -v go >/dev/null || die "go missing (run scripts/install-deps)"
  CTRBENCH=$B/ctrbench
  echo "building $CTRBENCH (Go $(go env GOVERSION), GOPATH mode against /usr/share/gocode)"
  # GOPATH mode builds a directory outside GOPATH only by a relative path.
  (cd "$HERE/ctrbench" && GO111MODULE=off GOPATH=$B/gopath:/usr/share/gocode \
    CGO_ENABLED=0 GOFLAGS="" go build -o "$CTRBENCH" .) || die "go build of ctrbench failed"
  export THINSNAP_BUILD_DIR=$BUILD_DIR THINSNAP_VM_CACHE=$CACHE THINSNAP_BIN THINSNAP_SERVE_BIN=$SERVE_BIN
  "$REPO/vm-tests/run" --mem 3072 --timeout 5400 --nvme 2G --nvme 512M --nvme 2G \
    --include "$CTRBENCH" "$HERE/served-scale-guest.sh" "$COUNT" "$CTRBENCH" | tee "$LOG"
}

if [[ -n $RENDER ]]; then
  [[ -f $RENDER ]] || die "--render $RENDER: no such log"
  [[ $RENDER -ef $LOG ]] || cp "$RENDER" "$LOG"
else
  run_vm || true
fi
grep -q '^thinsnap-scale-first ' "$LOG" || die "no results in $LOG (the guest failed early)"

# field NAME KEY: KEY=VALUE of the first line starting with NAME.
field() {
  awk -v name="$1" -v key="$2" '$1 == name {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) { print kv[2]; exit } } }' "$LOG"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
verdict() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v + 0 < lim + 0) ? "met" : "missed" }'; }

N=$(field thinsnap-scale-rss snapshots)
W=$(field thinsnap-scale-first n)
F50=$(field thinsnap-scale-first median) F95=$(field thinsnap-scale-first p95)
L50=$(field thinsnap-scale-last median) L95=$(field thinsnap-scale-last p95)
R50=$(ratio "$L50" "$F50") R95=$(ratio "$L95" "$F95")
RSS=$(field thinsnap-scale-rss vmrss_kib) HWM=$(field thinsnap-scale-rss vmhwm_kib)
HWM_WALK=$(field thinsnap-scale-rss-after-walk vmhwm_kib)
WALKS=$(awk '$1 == "thinsnap-scale-walk" { split($3, kv, "="); printf "%s%s", sep, kv[2]; sep = ", " }' "$LOG")
WALK1=$(field thinsnap-scale-walk ms)
CHECK=$(sed -n 's/^served-scale: pool check wall_ms=//p' "$LOG")
WALL=$(sed -n 's/^served-scale: wall_ms=//p' "$LOG")
{
  echo "| measure (thinsnap serve, $N snapshots from one committed parent) | measured | target | |"
  echo "|---|---:|---:|---|"
  echo "| Prepare+Mounts, first $W: median / p95 ms | $F50 / $F95 | | |"
  echo "| Prepare+Mounts, last $W: median / p95 ms | $L50 / $L95 | | |"
  echo "| last / first, median (p95) | $R50 ($R95) | <= 1.2 | $(verdict "$R50" 1.2000001) |"
  echo "| daemon VmRSS / VmHWM at $N, MiB | $(mib "$RSS") / $(mib "$HWM") | < 64 | $(verdict "$(mib "$HWM")" 64) |"
  echo "| daemon VmHWM after the Walks, MiB | $(mib "$HWM_WALK") | < 64 | $(verdict "$(mib "$HWM_WALK")" 64) |"
  echo "| List (Walk) of $((N + 1)), ms (each call) | $WALKS | < 500 | $(verdict "$WALK1" 500) |"
  echo "| wall of the $N Prepare+Mounts + Walks, s | $(awk -v m="${WALL:-0}" 'BEGIN { printf "%.0f", m / 1000 }') | | |"
  echo "| pool check at $N, ms | ${CHECK:--} | | |"
} | tee "$TABLE"

awk -v n="$N" '
  $1 == "thinsnap-scale-progress" {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    k++; x[k] = v["snapshots"]; p50[k] = v["p50"]; p95[k] = v["p95"]; rss[k] = v["rss_kib"] / 1024
  }
  END {
    printf "title\tthinsnap serve: Prepare+Mounts latency and daemon RSS against the snapshot count\n"
    printf "subtitle\t%d snapshots from one committed parent, kept active; containerd proxy client on the socket\n", n
    printf "subtitle\tQEMU TCG VM, 2 vCPUs shared with other work, emulated NVMe: read the shape, not the ms\n"
    printf "xlabel\tsnapshots prepared\n"
    printf "panel\tms (per 100 snapshots)\n"
    printf "series\tmedian\n"; for (i = 1; i <= k; i++) printf "pt\t%s\t%s\n", x[i], p50[i]
    printf "series\tp95\n"; for (i = 1; i <= k; i++) printf "pt\t%s\t%s\n", x[i], p95[i]
    printf "panel\tdaemon VmRSS, MiB\n"
    printf "series\tVmRSS\n"; for (i = 1; i <= k; i++) printf "pt\t%s\t%.1f\n", x[i], rss[i]
  }' "$LOG" | "$HERE/lines-svg.sh" >"$SVG"

if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  cp "$TABLE" "$LOG" "$SVG" "$OUT/"
  echo "wrote $OUT/served-scale.md, $OUT/served-scale.svg and $OUT/served-scale.log"
fi
grep -q '^served-scale: done' "$LOG" || die "the guest did not finish (see $LOG)"
