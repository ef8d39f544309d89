#!/bin/bash
# vm-tests/bench/peers.sh: per-operation create and remove latency of one snapshot device, side by
# side in one VM boot, against the same pool settings (64 KiB blocks, skip_block_zeroing, an
# inactive 1 GiB ext4 origin, the pool on two emulated NVMe namespaces):
#   floor       raw libdevmapper calls (vm-tests/bench/peerbench.c): create_snap +
#               set_transaction_id + create/load/resume; remove + delete + set_transaction_id
#   thinsnap    the CLI (`container create --activate`, `rm`) and in-process (`bench ops`)
#   containerd  Debian's containerd, devmapper snapshotter, `ctr snapshots prepare` / `rm`
#   LVM2        Debian's lvm2, `lvcreate -s -kn` (creates and activates) / `lvremove`
# The floor runs first and last; ratios are to the mean of its two medians.
#
# Usage: vm-tests/bench/peers.sh [COUNT]   (operations per contender, default 30)
# THINSNAP_BEFORE=/path/to/an/older/thinsnap adds its CLI rows (before/after in one run).
# Needs a built tree (THINSNAP_BUILD_DIR, default <repo>/build, with the peerbench target).
# Debian's containerd and lvm2 packages (and the libraries lvm2 needs) are fetched with
# `apt-get download` into $THINSNAP_VM_CACHE/peers (default <build>/vm-cache/peers) and unpacked
# there; nothing is installed on the host. Prints the guest's log, then a markdown table; the
# table is also written to <build>/bench/peers.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
COUNT=${1:-30}
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
CACHE=${THINSNAP_VM_CACHE:-$BUILD_DIR/vm-cache}
PEERS_PKGS=(containerd lvm2 libaio1 libdevmapper-event1.02.1 libedit2)

die() {
  echo "peers.sh: $*" >&2
  exit 1
}

[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer, not '$COUNT'"
PEERBENCH=$BUILD_DIR/vm-tests/peerbench
[[ -x $PEERBENCH ]] || die "$PEERBENCH not built: cmake --build $BUILD_DIR"
[[ -x $BUILD_DIR/cli/thinsnap ]] || die "$BUILD_DIR/cli/thinsnap not built"
BEFORE=${THINSNAP_BEFORE:-}
BEFORE_ARGS=()
if [[ -n $BEFORE ]]; then
  [[ -x $BEFORE ]] || die "THINSNAP_BEFORE=$BEFORE is not an executable"
  BEFORE=$(realpath "$BEFORE")
  BEFORE_ARGS=(--include "$BEFORE")
  echo "before: $BEFORE ($(ldd "$BEFORE" | wc -l) ldd lines)"
fi
echo "thinsnap: $BUILD_DIR/cli/thinsnap ($(ldd "$BUILD_DIR/cli/thinsnap" | wc -l) ldd lines)"

# fetch_peers DIR: downloads and unpacks the peers' packages into DIR/root (once).
fetch_peers() {
  local dir=$1
  [[ -e $dir/root/.complete ]] && return 0
  mkdir -p "$dir/debs"
  rm -rf "$dir/root"
  (cd "$dir/debs" && apt-get download "${PEERS_PKGS[@]}") || die "apt-get download failed"
  local deb
  for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root.tmp"; done
  # Only what the benchmark runs goes into the VM: the daemon, its client, lvm, their libraries.
  local libdir
  mkdir -p "$dir/root/usr/bin" "$dir/root/sbin"
  cp -a "$dir/root.tmp/usr/bin/containerd" "$dir/root.tmp/usr/bin/ctr" "$dir/root/usr/bin/"
  cp -a "$dir/root.tmp/sbin/lvm" "$dir/root/sbin/"
  for libdir in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
    [[ -d $dir/root.tmp/$libdir ]] || continue
    mkdir -p "$dir/root/$libdir"
    cp -a "$dir/root.tmp/$libdir"/*.so* "$dir/root/$libdir/"
  done
  rm -rf "$dir/root.tmp"
  (cd "$dir/debs" && ls) >"$dir/root/.complete"
}

PEERS_DIR=$CACHE/peers
fetch_peers "$PEERS_DIR"
echo "peers: $(tr '\n' ' ' <"$PEERS_DIR/root/.complete")"

mkdir -p "$BUILD_DIR/bench"
LOG=$BUILD_DIR/bench/peers.log
export THINSNAP_BUILD_DIR=$BUILD_DIR THINSNAP_VM_CACHE=$CACHE
"$REPO/vm-tests/run" --mem 3072 --timeout 3600 --nvme 2G --nvme 256M --nvme 1G \
  --include "$PEERS_DIR/root" --include "$PEERBENCH" "${BEFORE_ARGS[@]}" \
  "$HERE/peers-guest.sh" "$COUNT" "$PEERS_DIR/root" "$PEERBENCH" "$BEFORE" | tee "$LOG"

# The table: one row per summary line, ratios of medians to the floor's.
awk '
  / n=[0-9]+ median=/ {
    label = $1
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[label, kv[1]] = kv[2] }
    order[++rows] = label
  }
  END {
    fc = (v["floor1-create", "median"] + v["floor2-create", "median"]) / 2
    fr = (v["floor1-remove", "median"] + v["floor2-remove", "median"]) / 2
    print "| operation | n | median ms | p95 ms | max ms | x floor |"
    print "|---|---:|---:|---:|---:|---:|"
    for (r = 1; r <= rows; r++) {
      l = order[r]
      ratio = "-"
      if (l ~ /remove|-rm$|lvremove/ && fr > 0) ratio = sprintf("%.2f", v[l, "median"] / fr)
      else if (l ~ /create|prepare/ && fc > 0) ratio = sprintf("%.2f", v[l, "median"] / fc)
      printf "| %s | %s | %s | %s | %s | %s |\n", l, v[l, "n"], v[l, "median"], v[l, "p95"],
        v[l, "max"], ratio
    }
  }' "$LOG" | tee "$BUILD_DIR/bench/peers.md"
