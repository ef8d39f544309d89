#!/bin/bash
# vm-tests/bench/ops-scale.sh: the host half of `vm-tests/bench/ops.sh --scale-only` (see its
# usage there): one VM boot of ops-scale-guest.sh, then the table and the chart.
#
# Usage: vm-tests/bench/ops-scale.sh [--budget S] [--out DIR] [SCALE]   (default 100000, 3000 s)
#        vm-tests/bench/ops-scale.sh --render LOG [--out DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
PEERBENCH=$BUILD_DIR/vm-tests/peerbench
CTRBENCH=$BUILD_DIR/bench/ctrbench
SCALE=100000 BUDGET=3000 OUT="" RENDER=""

die() {
  echo "ops.sh --scale-only: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
    --budget) (($# >= 2)) || die "--budget needs seconds"; BUDGET=$2; shift 2 ;;
    --out) (($# >= 2)) || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --render) (($# >= 2)) || die "--render needs a log"; RENDER=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) SCALE=$1; shift ;;
  esac
done
for n in "$SCALE" "$BUDGET"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive integer: $n"
done
B=$BUILD_DIR/bench
LOG=$B/ops-scale.log TABLE=$B/ops-scale.md SVG=$B/ops-scale.svg
mkdir -p "$B"

if [[ -n $RENDER ]]; then
  [[ -f $RENDER ]] || die "--render $RENDER: no such log"
  [[ $RENDER -ef $LOG ]] || cp "$RENDER" "$LOG"
else
  [[ -x $PEERBENCH ]] || die "$PEERBENCH not built: cmake --build $BUILD_DIR"
  # ctrbench (vm-tests/bench/ctrbench) for the served step, as served-scale.sh builds it.
  command -v go >/dev/null || die "go missing (run scripts/install-deps)"
  (cd "$HERE/ctrbench" && GO111MODULE=off GOPATH=$B/gopath:/usr/share/gocode \
    CGO_ENABLED=0 GOFLAGS="" go build -o "$CTRBENCH" .) || die "go build of ctrbench failed"
  export THINSNAP_BUILD_DIR=$BUILD_DIR
  "$REPO/vm-tests/run" --mem 2048 --timeout $((BUDGET + 1500)) --nvme 2G --nvme 1G --nvme 2G \
    --nvme 2G --nvme 512M --include "$PEERBENCH" --include "$CTRBENCH" \
    "$HERE/ops-scale-guest.sh" "$SCALE" "$BUDGET" "$PEERBENCH" "$CTRBENCH" | tee "$LOG" || true
fi
# On the VM's console (a tty) bench ops also writes its "\rN devices" live line to stderr, which
# lands in front of the progress lines: PLOG is the log with that cut off.
PLOG=$B/ops-scale.parsed.log
sed 's/^.*scale-progress devices=/scale-progress devices=/' "$LOG" >"$PLOG"
grep -q '^scale-progress ' "$PLOG" || die "no scale-progress lines in $LOG (the guest failed early)"

# The figures, as "KEY VALUE" lines: the first and the last 1000 from the progress lines, the rest
# from the guest's summary lines.
figures() {
  awk '
    function kv(s, key,   i, a) {
      for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == key) return a[2] }
      return ""
    }
    /^scale-progress / {
      n++
      if (n == 1) { print "first_p50", kv($0, "p50_ms"); print "first_p95", kv($0, "p95_ms") }
      last50 = kv($0, "p50_ms"); last95 = kv($0, "p95_ms"); dev = kv($0, "devices")
      rss = kv($0, "rss_kib"); el = kv($0, "elapsed_ms")
    }
    /^RSS at [0-9]+ devices:/ { print "rss_final", $5 $6 }
    /^open \+ recovery, / { opens++; devs = $4 }
    /^open: p50 / { o50[opens] = $3; o95[opens] = $6 }
    /^RSS after open: / { orss[opens] = $4 " " $5 }
    /^ops-scale: pool check wall_ms=/ { split($4, a, "="); print "check_ms", a[2] }
    /^ops-scale: the budget of/ { print "budget_hit", $5 }
    /^floor-(empty|full)-first / {
      split($1, a, "-"); print "floor_" a[2] "_p50", kv($0, "median"); print "floor_" a[2] "_p95", kv($0, "p95")
    }
    /^[0-9]+ devices in the journal/ { print "check_devices", $1 }
    /^ops-scale: serve catalog loaded, nothing active: VmRSS/ { print "serve_idle_rss", $(NF - 1) }
    /^ops-scale: serve after 1000 served Prepare\+Mounts: VmRSS/ { print "serve_1000_rss", $(NF - 1) }
    /^ops-scale: serve start to socket/ { split($NF, a, "="); print "serve_start_ms", a[2] }
    /^served-scale-(first|last) / { split($1, a, "-"); print "served_" a[3] "_p50", kv($0, "median") }
    /^served-scale-walk / { print "served_walk_ms", kv($0, "ms"); print "served_walk_n", kv($0, "snapshots") }
    END {
      print "last_p50", last50; print "last_p95", last95; print "devices", dev
      print "rss_kib", rss; print "elapsed_ms", el
      print "open0_p50", o50[1]; print "open0_rss", orss[1]
      print "open_devices", devs; print "open_p50", o50[2]; print "open_p95", o95[2]; print "open_rss", orss[2]
    }' "$PLOG"
}
FIG=$(figures)
get() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' <<<"$FIG"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
verdict() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v + 0 <= lim + 0) ? "met" : "missed" }'; }
N=$(get devices)
R50=$(ratio "$(get last_p50)" "$(get first_p50)") R95=$(ratio "$(get last_p95)" "$(get first_p95)")
RSS_MIB=$(awk -v k="$(get rss_kib)" 'BEGIN { printf "%.1f", k / 1024 }')
OPEN_S=$(awk -v m="$(get open_p50)" 'BEGIN { printf "%.3f", m / 1000 }')
CHECK_S=$(awk -v m="$(get check_ms)" 'BEGIN { printf "%.1f", m / 1000 }')
BUDGET_NOTE=""
[[ -z $(get budget_hit) ]] || BUDGET_NOTE=" (the time budget ended the run short of $SCALE)"
{
  echo "| measure (in-process \`bench ops --scale\`, $N devices$BUDGET_NOTE) | measured | target | |"
  echo "|---|---:|---:|---|"
  echo "| create, first 1000: p50 / p95 ms | $(get first_p50) / $(get first_p95) | | |"
  echo "| create, last 1000 (to $N): p50 / p95 ms | $(get last_p50) / $(get last_p95) | | |"
  echo "| last / first, p50 (p95) | $R50 ($R95) | <= 1.2 | $(verdict "$R50" 1.2) |"
  echo "| RSS of the creating process at $N, MiB | $RSS_MIB | < 96 | $(verdict "$RSS_MIB" 95.99) |"
  echo "| open + recovery at $(get open_devices) devices: p50 / p95 ms | $(get open_p50) / $(get open_p95) | < 500 | $(verdict "$OPEN_S" 0.5) |"
  echo "| RSS after open at $(get open_devices) | $(get open_rss) | < 96 MiB | |"
  echo "| open + recovery, nearly empty: p50 ms (RSS) | $(get open0_p50) ($(get open0_rss)) | | |"
  echo "| pool check at $(get check_devices) devices, s | $CHECK_S | < 60 | $(verdict "$CHECK_S" 60) |"
  echo "| raw create_snap + set_transaction_id, first 100 on an empty pool: median / p95 ms | $(get floor_empty_p50) / $(get floor_empty_p95) | | |"
  echo "| the same on the pool at $N devices: median / p95 ms | $(get floor_full_p50) / $(get floor_full_p95) | | |"
  if [[ -n $(get serve_idle_rss) ]]; then
    kib_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
    echo "| thinsnap serve on this root: start to socket, ms | $(get serve_start_ms) | | |"
    echo "| its VmRSS, catalog loaded, nothing active, MiB | $(kib_mib "$(get serve_idle_rss)") | | |"
    echo "| its VmRSS after 1000 served Prepare+Mounts (active), MiB | $(kib_mib "$(get serve_1000_rss)") | | |"
    echo "| served Prepare+Mounts at this count, first / last 100 of the 1000: median ms | $(get served_first_p50) / $(get served_last_p50) | | |"
    echo "| served List (Walk), ms: its $(get served_walk_n) snapshots (bench ops containers have no containerd key) | $(get served_walk_ms) | | |"
  fi
  echo "| wall of the scale run, s | $(awk -v m="$(get elapsed_ms)" 'BEGIN { printf "%.0f", m / 1000 }') | | |"
} | tee "$TABLE"

awk -v n="$N" '
  /^scale-progress / {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    k++; x[k] = v["devices"]; p50[k] = v["p50_ms"]; p95[k] = v["p95_ms"]; rss[k] = v["rss_kib"] / 1024
  }
  END {
    printf "title\tbench ops --scale: container create latency and RSS against the device count\n"
    printf "subtitle\t%d thin snapshots of one 1 GiB ext4 layer, in one process (engine API, no activation)\n", n
    printf "subtitle\tQEMU TCG VM, 2 vCPUs shared with other work, emulated NVMe: read the shape, not the ms\n"
    printf "xlabel\tdevices in the pool\n"
    printf "panel\tms (per 1000 creates)\n"
    printf "series\tp50\n"; for (i = 1; i <= k; i++) printf "pt\t%s\t%s\n", x[i], p50[i]
    printf "series\tp95\n"; for (i = 1; i <= k; i++) printf "pt\t%s\t%s\n", x[i], p95[i]
    printf "panel\tRSS, MiB\n"
    printf "series\tRSS\n"; for (i = 1; i <= k; i++) printf "pt\t%s\t%.1f\n", x[i], rss[i]
  }' "$PLOG" | "$HERE/lines-svg.sh" >"$SVG"

if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  cp "$TABLE" "$LOG" "$SVG" "$OUT/"
  echo "wrote $OUT/ops-scale.md, $OUT/ops-scale.svg and $OUT/ops-scale.log"
fi
grep -q '^ops-scale: done' "$LOG" || die "the guest did not finish (see $LOG)"
