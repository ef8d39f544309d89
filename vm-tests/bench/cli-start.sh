#!/bin/bash
# vm-tests/bench/cli-start.sh: what starting the CLI costs, `thinsnap --version` against a static
# hello-world (vm-tests/bench/hello.c, gcc -static -O2; the baseline), the same hello linked
# dynamically (what ld.so and glibc add) and busybox-static `true`, started RUNS
# times each, interleaved, by vm-tests/bench/execbench.c (posix_spawn + waitpid, CLOCK_MONOTONIC);
# in one VM boot and, as a reference without emulation, on this host. Under TCG a process start
# is inflated 6-26x, so only the ratios within one machine mean anything.
#
# Usage: vm-tests/bench/cli-start.sh [--out DIR] [RUNS]   (default 200)
#        vm-tests/bench/cli-start.sh --render LOG [--out DIR]   (the table and chart again)
# Prints the guest's log and a markdown table (median, mean, p95 per exec, its median minor page
# faults; ratios of median and mean to the static hello) and writes a chart (bars-svg.sh: the
# median of each exec as a multiple of the static hello's, VM and host); with --out DIR also
# writes DIR/cli-start.{md,svg,log}.
# Needs a built tree (THINSNAP_BUILD_DIR, default <repo>/build; THINSNAP_BIN as for vm-tests/run),
# gcc with a static libc (libc6-dev) and /usr/bin/busybox statically linked (busybox-static).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
CACHE=${THINSNAP_VM_CACHE:-$BUILD_DIR/vm-cache}
OUT="" RUNS=200 RENDER=""

die() {
  echo "cli-start.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
    --out) (($# >= 2)) || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --render) (($# >= 2)) || die "--render needs a log"; RENDER=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) RUNS=$1; shift ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
LOG=$BUILD_DIR/bench/cli-start.log
TABLE=$BUILD_DIR/bench/cli-start.md
CHART=$BUILD_DIR/bench/cli-start.svg
mkdir -p "$BUILD_DIR/bench"
if [[ -n $RENDER ]]; then
  [[ -f $RENDER ]] || die "--render $RENDER: no such log"
  [[ $RENDER -ef $LOG ]] || cp "$RENDER" "$LOG"
else
  THINSNAP_BIN=${THINSNAP_BIN:-$BUILD_DIR/cli/thinsnap}
  [[ -x $THINSNAP_BIN ]] || die "$THINSNAP_BIN not built"
  file -L /usr/bin/busybox 2>/dev/null | grep -q 'statically linked' ||
    die "/usr/bin/busybox is missing or not static (apt-get install busybox-static)"

  B=$BUILD_DIR/bench/cli-start
  mkdir -p "$B"
  for prog in execbench hello; do
    gcc -static -O2 -Wall -Wextra -Werror -o "$B/$prog" "$HERE/$prog.c" || die "gcc -static $prog.c failed"
  done
  gcc -O2 -Wall -Wextra -Werror -o "$B/hello-dynamic" "$HERE/hello.c" || die "gcc hello.c failed"
  cp /usr/bin/busybox "$B/busybox"
  # The VM gets thinsnap stripped of its debug sections (vm-tests/run); the host row uses the same.
  strip --strip-debug -o "$B/thinsnap" "$THINSNAP_BIN"

  export THINSNAP_BUILD_DIR=$BUILD_DIR THINSNAP_VM_CACHE=$CACHE THINSNAP_BIN
  "$REPO/vm-tests/run" --timeout 1800 --include "$B/execbench" --include "$B/hello" \
    --include "$B/hello-dynamic" --include "$B/busybox" \
    "$HERE/cli-start-guest.sh" "$RUNS" "$B/execbench" "$B/hello" "$B/hello-dynamic" "$B/busybox" |
    tee "$LOG"
  grep -q '^cli-start: done' "$LOG" || die "the guest did not finish (see $LOG)"
  echo "--- host (no emulation): $(uname -r), $(nproc) CPUs" | tee -a "$LOG"
  "$B/execbench" "$RUNS" "static-hello=$B/hello" "dynamic-hello=$B/hello-dynamic" \
    "busybox-true=$B/busybox,true" "thinsnap--version=$B/thinsnap,--version" | tee -a "$LOG"

fi

# One row per machine and program; ratios to the static hello of the same machine.
awk '
  /^--- host/ { machine = "host" }
  $1 == "execbench" {
    m = machine == "" ? "VM (TCG)" : machine
    for (i = 3; i <= NF; i++) { split($i, kv, "="); v[m, $2, kv[1]] = kv[2] }
    if (!((m, $2) in seen)) { seen[m, $2] = 1; rows[++n] = m SUBSEP $2 }
  }
  function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
  END {
    print "| machine | exec | runs | median ms | mean ms | p95 ms | minor faults | median x static-hello |" \
      " mean x static-hello |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    for (r = 1; r <= n; r++) {
      split(rows[r], k, SUBSEP)
      m = k[1]; p = k[2]
      printf "| %s | %s | %s | %.2f | %.2f | %.2f | %s | %s | %s |\n", m, p, v[m, p, "runs"],
        v[m, p, "median"], v[m, p, "mean"], v[m, p, "p95"], v[m, p, "faults"],
        ratio(v[m, p, "median"], v[m, "static-hello", "median"]),
        ratio(v[m, p, "mean"], v[m, "static-hello", "mean"])
    }
  }' "$LOG" | tee "$TABLE"

# The chart: one panel per machine, each exec's median as a multiple of that machine's static hello.
awk -F' *[|] *' '
  BEGIN { OFS = "\t"; print "title", "Starting a process: median as a multiple of a static hello-world" }
  NR == 1 { print "subtitle", "thinsnap --version against execs of the same machine; under TCG a start is inflated 6-26x" }
  NR > 2 {
    if ($2 != machine) { machine = $2; print "panel", machine, "x static hello" }
    print "bar", $3, sprintf("%s ms median, %s minor faults", $5, $8)
    print "seg", "median", $9
  }' "$TABLE" | "$HERE/bars-svg.sh" >"$CHART"
echo "wrote $CHART"
if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  cp "$TABLE" "$CHART" "$LOG" "$OUT/"
  echo "wrote $OUT/cli-start.md, cli-start.svg and cli-start.log"
fi
