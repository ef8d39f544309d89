#!/bin/bash
# vm-tests/bench/snapshotters.sh: Prepare+Mounts and Remove latency of containerd snapshotters,
# through containerd's client, side by side in one VM boot:
#   thinsnap    `thinsnap serve` as containerd's proxy snapshotter
#   devmapper   containerd's built-in devmapper snapshotter, same pool settings (64 KiB blocks,
#               skip_block_zeroing, 1 GiB ext4 base, the pool on two emulated NVMe namespaces)
#   overlayfs   containerd's default snapshotter (directories on an ext4 filesystem)
# Debian's containerd 1.6 from the host goes into the VM; the client is
# vm-tests/bench/ctrbench (Go, built here static with Debian's Go in GOPATH mode), one process
# per snapshotter, so no process start is in the figures. Remove in containerd only drops the key
# from its database; the snapshotter's own delete happens in the next garbage collection, so the
# table has `remove` and `remove+gc` (a synchronous collection right after, as containerd's
# `--sync` deletes do) and the idle collection's cost (`gc-idle`).
#
# Usage: vm-tests/bench/snapshotters.sh [--out DIR] [COUNT]   (operations per kind, default 30)
#        vm-tests/bench/snapshotters.sh --burst N [--out DIR]
# Prints the guest's log and a markdown table with ratios to overlayfs and to devmapper; with
# --out DIR also writes DIR/snapshotters.md and DIR/snapshotters.log.
# --burst N: instead N Prepare+Mounts issued at once (ctrbench -burst N) per contender, plus
# thinsnap under `thinsnap serve --serial` (one request at a time) as thinsnap-serial; a table of
# the burst's wall time, median/p95/max latency, max/median and the wall's ratios to devmapper
# and overlayfs, and a CDF chart of every request's latency (vm-tests/bench/cdf-svg.sh); with
# --out DIR written as DIR/burst.md, DIR/burst.svg and DIR/burst.log. Needs a built tree
# (THINSNAP_BUILD_DIR, default <repo>/build, with the thinsnap-serve daemon; THINSNAP_BIN and
# THINSNAP_SERVE_BIN as for vm-tests/run) and what
# scripts/install-deps installs (containerd, golang-go, golang-github-containerd-containerd-dev).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
CACHE=${THINSNAP_VM_CACHE:-$BUILD_DIR/vm-cache}
OUT="" COUNT=30 BURST=""

die() {
  echo "snapshotters.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
    --out) (($# >= 2)) || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --burst) (($# >= 2)) || die "--burst needs a count"; BURST=$2; COUNT=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) COUNT=$1; shift ;;
  esac
done
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer, not '$COUNT'"
THINSNAP_BIN=${THINSNAP_BIN:-$BUILD_DIR/cli/thinsnap}
SERVE_BIN=${THINSNAP_SERVE_BIN:-$(dirname "$THINSNAP_BIN")/../services/thinsnap-serve}
[[ -x $THINSNAP_BIN ]] || die "$THINSNAP_BIN not built"
[[ -x $SERVE_BIN ]] || die "$SERVE_BIN (the daemon of thinsnap serve) not built"
for b in containerd ctr go; do
  command -v "$b" >/dev/null || die "$b missing (run scripts/install-deps)"
done

mkdir -p "$BUILD_DIR/bench"
CTRBENCH=$BUILD_DIR/bench/ctrbench
echo "building $CTRBENCH (Go $(go env GOVERSION), GOPATH mode against /usr/share/gocode)"
# GOPATH mode builds a directory outside GOPATH only by a relative path.
(cd "$HERE/ctrbench" && GO111MODULE=off GOPATH=$BUILD_DIR/bench/gopath:/usr/share/gocode \
  CGO_ENABLED=0 GOFLAGS="" go build -o "$CTRBENCH" .) || die "go build of ctrbench failed"

NAME=snapshotters GUEST_ARGS=()
[[ -z $BURST ]] || NAME=burst GUEST_ARGS=(--burst)
LOG=$BUILD_DIR/bench/$NAME.log
TABLE=$BUILD_DIR/bench/$NAME.md
export THINSNAP_BUILD_DIR=$BUILD_DIR THINSNAP_VM_CACHE=$CACHE THINSNAP_BIN THINSNAP_SERVE_BIN=$SERVE_BIN
"$REPO/vm-tests/run" --mem 3072 --timeout 3600 --nvme 2G --nvme 256M --nvme 2G \
  --include /usr/bin/containerd --include /usr/bin/ctr --include "$CTRBENCH" \
  "$HERE/snapshotters-guest.sh" "${GUEST_ARGS[@]}" "$COUNT" "$CTRBENCH" | tee "$LOG"

# burst_table: one row per contender; the wall's ratios to devmapper's and overlayfs's.
burst_table() {
  awk '
    function label(s) { sub(/-burst.*$/, "", s); return s }
    $1 ~ /-burst$/ && $2 ~ /^n=/ { sn = label($1); order[++n] = sn; split($3, kv, "="); wall[sn] = kv[2] }
    $1 ~ /-burst-prepare\+mounts$/ {
      sn = label($1)
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[sn, kv[1]] = kv[2] }
    }
    $1 ~ /-burst-remove$/ { sn = label($1); split($3, kv, "="); rm[sn] = kv[2] }
    function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.2f", a / b) : "-" }
    END {
      print "| snapshotter | n | burst wall ms | median ms | p95 ms | max ms | max/median |" \
        " wall x devmapper | wall x overlayfs | remove burst wall ms |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= n; i++) {
        sn = order[i]
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sn, v[sn, "n"], wall[sn],
          v[sn, "median"], v[sn, "p95"], v[sn, "max"], ratio(v[sn, "max"], v[sn, "median"]),
          ratio(wall[sn], wall["devmapper"]), ratio(wall[sn], wall["overlayfs"]), rm[sn]
      }
    }' "$LOG"
}

if [[ -n $BURST ]]; then
  burst_table | tee "$TABLE"
  grep -q '^snapshotters: done' "$LOG" || die "the guest did not finish (see $LOG)"
  SVG=$BUILD_DIR/bench/burst.svg
  "$HERE/cdf-svg.sh" "$LOG" "$BURST Prepare+Mounts at once through containerd (QEMU TCG VM: compare ratios only)" >"$SVG"
  if [[ -n $OUT ]]; then
    mkdir -p "$OUT"
    cp "$TABLE" "$LOG" "$SVG" "$OUT/"
    echo "wrote $OUT/burst.md, $OUT/burst.svg and $OUT/burst.log"
  fi
  exit 0
fi

# One row per operation and snapshotter; ratios of medians to overlayfs's and devmapper's.
awk '
  / n=[0-9]+ median=/ {
    split($1, parts, "-")
    sn = parts[1]
    op = substr($1, length(sn) + 2)
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[sn, op, kv[1]] = kv[2] }
    if (!(op in seen)) { seen[op] = 1; ops[++nops] = op }
  }
  function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.2f", a / b) : "-" }
  END {
    nsn = split("thinsnap devmapper overlayfs", sns, " ")
    print "| operation | snapshotter | n | median ms | p95 ms | max ms | x overlayfs | x devmapper |"
    print "|---|---|---:|---:|---:|---:|---:|---:|"
    for (o = 1; o <= nops; o++) {
      op = ops[o]
      for (s = 1; s <= nsn; s++) {
        sn = sns[s]
        if (v[sn, op, "n"] == "") continue
        m = v[sn, op, "median"]
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", op, sn, v[sn, op, "n"], m,
          v[sn, op, "p95"], v[sn, op, "max"], ratio(m, v["overlayfs", op, "median"]),
          ratio(m, v["devmapper", op, "median"])
      }
    }
  }' "$LOG" | tee "$TABLE"
grep -q '^snapshotters: done' "$LOG" || die "the guest did not finish (see $LOG)"
if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  cp "$TABLE" "$LOG" "$OUT/"
  echo "wrote $OUT/snapshotters.md and $OUT/snapshotters.log"
fi
