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
# Prints the guest's log and a markdown table with ratios to overlayfs and to devmapper; with
# --out DIR also writes DIR/snapshotters.md and DIR/snapshotters.log. Needs a built tree
# (THINSNAP_BUILD_DIR, default <repo>/build, with the thinsnap-serve daemon; THINSNAP_BIN and
# THINSNAP_SERVE_BIN as for vm-tests/run) and what
# scripts/install-deps installs (containerd, golang-go, golang-github-containerd-containerd-dev).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
CACHE=${THINSNAP_VM_CACHE:-$BUILD_DIR/vm-cache}
OUT="" COUNT=30

die() {
  echo "snapshotters.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
    --out) (($# >= 2)) || die "--out needs a directory"; OUT=$2; shift 2 ;;
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

LOG=$BUILD_DIR/bench/snapshotters.log
TABLE=$BUILD_DIR/bench/snapshotters.md
export THINSNAP_BUILD_DIR=$BUILD_DIR THINSNAP_VM_CACHE=$CACHE THINSNAP_BIN THINSNAP_SERVE_BIN=$SERVE_BIN
"$REPO/vm-tests/run" --mem 3072 --timeout 3600 --nvme 2G --nvme 256M --nvme 2G \
  --include /usr/bin/containerd --include /usr/bin/ctr --include "$CTRBENCH" \
  "$HERE/snapshotters-guest.sh" "$COUNT" "$CTRBENCH" | tee "$LOG"

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
