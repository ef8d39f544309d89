#!/bin/bash
# vm-tests/bench/benchsuite.sh: containerd's own snapshotter benchmark suite
# (github.com/containerd/containerd/snapshots/benchsuite, from Debian's
# golang-github-containerd-containerd-dev 1.6.20) against thinsnap, containerd's devmapper
# snapshotter on the same pool settings, overlay and native, one after the other in one VM boot.
# The suite writes 16 layers (10 files of 1 MB each: created, 4 bytes rewritten in the middle, or
# removed, depending on the layer), each Prepare -> mount + write + unmount -> Commit on the
# previous one, and reports the time per 16 layers with its parts prepare, write and commit.
#
#   thinsnap    `thinsnap serve`, through containerd's proxy snapshotter client on its socket
#               (vm-tests/bench/benchsuite/thinsnap_test.go: BenchmarkThinsnap)
#   devmapper   containerd's devmapper snapshotter package (the suite's BenchmarkDeviceMapper),
#               on a pool made with dmsetup: 64 KiB blocks, skip_block_zeroing, 16 MiB ext4 base
#   overlay     containerd's overlay snapshotter package on an ext4 filesystem (BenchmarkOverlay)
#   native      containerd's native snapshotter (full copies, BenchmarkNative), same ext4
# thinsnap's pool has the same settings on the same emulated NVMe devices (--block-size 64k,
# --base-size 16M; skip_block_zeroing is thinsnap's default). containerd's three benchmarks are
# its own code, unmodified: the suite's driver is unexported and lives in a _test.go file, so this
# script copies containerd's benchmark.go and benchmark_test.go beside thinsnap_test.go into one
# package and builds the test binary (static, Debian's Go in GOPATH mode, `go test -c`).
#
# Usage: vm-tests/bench/benchsuite.sh [--out DIR] [--benchtime Nx]   (default 3x: the suite's
#        iteration, 16 layers, runs once to size itself and then N times; the figures are
#        the N-iteration run's, per iteration)
#        vm-tests/bench/benchsuite.sh --render LOG [--out DIR]   (the table and chart again)
# Prints the guest's log and a markdown table (time per iteration of 16 layers and per layer,
# MB/s, ratios to overlay and to devmapper); writes build/bench/benchsuite.{md,svg,log}, and with
# --out DIR copies them there. Needs a built tree (THINSNAP_BUILD_DIR, default <repo>/build, with
# the thinsnap-serve daemon; THINSNAP_BIN and THINSNAP_SERVE_BIN as for vm-tests/run) and what
# scripts/install-deps installs (golang-go, golang-github-containerd-containerd-dev).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
CACHE=${THINSNAP_VM_CACHE:-$BUILD_DIR/vm-cache}
SUITE=/usr/share/gocode/src/github.com/containerd/containerd/snapshots/benchsuite
OUT="" BENCHTIME=3x RENDER=""

die() {
  echo "benchsuite.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
    --out) (($# >= 2)) || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --benchtime) (($# >= 2)) || die "--benchtime needs a count like 3x"; BENCHTIME=$2; shift 2 ;;
    --render) (($# >= 2)) || die "--render needs a log"; RENDER=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $BENCHTIME =~ ^[1-9][0-9]*x$ ]] || die "--benchtime takes an iteration count like 3x, not '$BENCHTIME'"
B=$BUILD_DIR/bench
LOG=$B/benchsuite.log TABLE=$B/benchsuite.md SVG=$B/benchsuite.svg
mkdir -p "$B"

# run_vm: builds the test binary, runs the guest, writes $LOG.
run_vm() {
  THINSNAP_BIN=${THINSNAP_BIN:-$BUILD_DIR/cli/thinsnap}
  SERVE_BIN=${THINSNAP_SERVE_BIN:-$(dirname "$THINSNAP_BIN")/../services/thinsnap-serve}
  [[ -x $THINSNAP_BIN ]] || die "$THINSNAP_BIN not built"
  [[ -x $SERVE_BIN ]] || die "$SERVE_BIN (the daemon of thinsnap serve) not built"
  command -v go >/dev/null || die "go missing (run scripts/install-deps)"
  [[ -f $SUITE/benchmark_test.go ]] || die "$SUITE missing (apt-get install golang-github-containerd-containerd-dev)"

  TEST_BIN=$B/benchsuite.test
  echo "building $TEST_BIN (Go $(go env GOVERSION), containerd's $SUITE + thinsnap_test.go)"
  GOPATH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/thinsnap-gopath.XXXXXX")
  trap 'rm -rf "$GOPATH_TMP"' EXIT
  PKG=$GOPATH_TMP/src/thinsnap/benchsuite
  mkdir -p "$PKG"
  cp "$SUITE"/benchmark.go "$SUITE"/benchmark_test.go "$HERE/benchsuite/thinsnap_test.go" "$PKG/"
  # A go.mod (ignored in GOPATH mode otherwise) lets the suite's gotest.tools/v3 imports resolve to
  # Debian's gotest.tools (minimal module compatibility).
  echo "module thinsnap/benchsuite" >"$PKG/go.mod"
  (cd "$PKG" && GO111MODULE=off GOPATH=$GOPATH_TMP:/usr/share/gocode CGO_ENABLED=0 GOFLAGS="" \
    go test -c -o "$TEST_BIN" .) || die "go test -c of the benchsuite failed"

  export THINSNAP_BUILD_DIR=$BUILD_DIR THINSNAP_VM_CACHE=$CACHE THINSNAP_BIN THINSNAP_SERVE_BIN=$SERVE_BIN
  "$REPO/vm-tests/run" --mem 3072 --timeout 5400 --nvme 2G --nvme 256M --nvme 4G \
    --include "$TEST_BIN" "$HERE/benchsuite-guest.sh" "$TEST_BIN" "$BENCHTIME" | tee "$LOG"
  grep -q '^benchsuite: done' "$LOG" || die "the guest did not finish (see $LOG)"
}

if [[ -n $RENDER ]]; then
  [[ -f $RENDER ]] || die "--render $RENDER: no such log"
  [[ $RENDER -ef $LOG ]] || cp "$RENDER" "$LOG"
  BENCHTIME=$(sed -n 's/^benchsuite: .*benchtime \([0-9]*x\).*/\1/p' "$LOG" | head -n 1)
else
  run_vm
fi
# results: "SNAPSHOTTER PHASE ITERATIONS NS_PER_ITERATION MB_PER_S" from go test -bench's lines.
results() {
  awk '
    BEGIN { name["Thinsnap"] = "thinsnap"; name["DeviceMapper"] = "devmapper"
            name["Overlay"] = "overlay"; name["Native"] = "native" }
    $1 ~ /^Benchmark[A-Za-z]+\/(run|prepare|write|commit)(-[0-9]+)?$/ && $4 == "ns/op" {
      split($1, part, "/")
      sn = substr(part[1], 10)
      phase = part[2]
      sub(/-[0-9]+$/, "", phase)
      printf "%s %s %s %s %s\n", (sn in name) ? name[sn] : sn, phase, $2, $3, ($6 == "MB/s") ? $5 : "-"
    }' "$LOG"
}

RESULTS=$(results)
[[ -n $RESULTS ]] || die "no benchmark lines in $LOG"
awk -v benchtime="$BENCHTIME" '
  { key = $1 SUBSEP $2; n[key] = $3; ns[key] = $4; mbs[key] = $5
    if (!($1 in seen)) { seen[$1] = 1; order[++nsn] = $1 } }
  function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.2f", a / b) : "-" }
  END {
    print "| phase | snapshotter | iterations | s per iteration (16 layers) | ms per layer | MB/s | x overlay | x devmapper |"
    print "|---|---|---:|---:|---:|---:|---:|---:|"
    split("run prepare write commit", phases, " ")
    for (p = 1; p <= 4; p++) {
      ph = phases[p]
      for (s = 1; s <= nsn; s++) {
        sn = order[s]
        k = sn SUBSEP ph
        if (!(k in ns)) continue
        printf "| %s | %s | %s | %.2f | %.1f | %s | %s | %s |\n", (ph == "run" ? "total" : ph), sn, n[k],
          ns[k] / 1e9, ns[k] / 16 / 1e6, mbs[k], ratio(ns[k], ns["overlay", ph]), ratio(ns[k], ns["devmapper", ph])
      }
    }
  }' <<<"$RESULTS" | tee "$TABLE"

# The chart: per snapshotter one bar of prepare + write + commit (s per 16 layers), and one of
# the snapshotter's own operations (prepare + commit, ms per layer).
awk -v benchtime="$BENCHTIME" '
  { key = $1 SUBSEP $2; ns[key] = $4; if (!($1 in seen)) { seen[$1] = 1; order[++nsn] = $1 } }
  function ratio(a, b) { return (b > 0) ? sprintf("%.2fx", a / b) : "-" }
  END {
    printf "title\tcontainerd benchsuite: 16 layers of 10 x 1 MB files, prepare / write / commit\n"
    printf "subtitle\tQEMU TCG VM, 2 vCPUs, one boot, emulated NVMe; compare ratios only. Lower is better. (%s)\n", benchtime
    printf "subtitle\tthinsnap through its gRPC socket; devmapper, overlay, native: containerd'"'"'s Go packages\n"
    printf "panel\tWhole iteration: prepare + mount, write, unmount + commit of 16 layers\ts per iteration\n"
    for (s = 1; s <= nsn; s++) {
      sn = order[s]
      printf "bar\t%s\t%s overlay, %s devmapper\n", sn, ratio(ns[sn, "run"], ns["overlay", "run"]),
        ratio(ns[sn, "run"], ns["devmapper", "run"])
      printf "seg\tprepare\t%.3f\nseg\twrite\t%.3f\nseg\tcommit\t%.3f\n", ns[sn, "prepare"] / 1e9,
        ns[sn, "write"] / 1e9, ns[sn, "commit"] / 1e9
    }
    printf "panel\tThe snapshotter'"'"'s own calls: Prepare + Commit per layer\tms per layer\n"
    for (s = 1; s <= nsn; s++) {
      sn = order[s]
      pc = ns[sn, "prepare"] + ns[sn, "commit"]
      printf "bar\t%s\t%s overlay, %s devmapper\n", sn, ratio(pc, ns["overlay", "prepare"] + ns["overlay", "commit"]),
        ratio(pc, ns["devmapper", "prepare"] + ns["devmapper", "commit"])
      printf "seg\tprepare\t%.1f\nseg\tcommit\t%.1f\n", ns[sn, "prepare"] / 16e6, ns[sn, "commit"] / 16e6
    }
  }' <<<"$RESULTS" | "$HERE/bars-svg.sh" >"$SVG"

if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  cp "$TABLE" "$LOG" "$SVG" "$OUT/"
  echo "wrote $OUT/benchsuite.md, $OUT/benchsuite.svg and $OUT/benchsuite.log"
fi
