#!/bin/bash
# vm-tests/bench/peers.sh: per-operation create and remove latency of one snapshot device, side by
# side in one VM boot, against the same pool settings (64 KiB blocks, skip_block_zeroing, an
# inactive 1 GiB ext4 origin, the pool on two emulated NVMe namespaces):
#   floor       raw libdevmapper calls (vm-tests/bench/peerbench.c): create_snap +
#               set_transaction_id + create/load/resume; remove + delete + set_transaction_id;
#               and the two messages alone (the floor of a create without activation)
#   thinsnap    in-process (`bench ops`, with and without --activate), the CLI
#               (`container create [--activate]`, `rm`) and served: `thinsnap serve` as
#               containerd's proxy snapshotter, Prepare+Mounts and Remove through containerd's Go
#               client (vm-tests/bench/ctrbench, one process: no process start per operation)
#   containerd  Debian's containerd: its devmapper and overlayfs snapshotters through the same
#               client (served-devmapper-*, served-overlayfs-*), and devmapper through
#               `ctr snapshots prepare` / `rm` (a process per operation)
#   LVM2        Debian's lvm2, `lvcreate -s -kn` (creates and activates) / `lvremove`
# The served rows are vm-tests/bench/snapshotters-guest.sh run inside this boot, each snapshotter
# on a fresh containerd (the same binary as the ctr rows). containerd's Remove only drops the key;
# the snapshotter deletes in the garbage collection after it, so served removes are compared to
# the floor as remove+gc. The floor runs first and last; ratios are to the mean of its two
# medians: create+activate and Prepare+Mounts to the create floor, creates without activation to
# the messages, removes of active devices to the remove floor (an inactive one's has no floor
# row). The table marks issue #15's targets for the in-process rows. Last, when the VM has strace,
# a profile that explains them: the floor and `bench ops` (with and without --activate) under
# `strace -f`, per operation the calls and kernel time of each syscall (dm ioctls by command,
# messages by verb) on the main thread and the others (profile-* lines in the log, not timed rows).
#
# Usage: vm-tests/bench/peers.sh [--out DIR] [COUNT]   (operations per contender, default 30)
# THINSNAP_BEFORE=/path/to/an/older/thinsnap adds its CLI rows (before/after in one run).
# Needs a built tree (THINSNAP_BUILD_DIR, default <repo>/build, with the peerbench target and
# the thinsnap-serve daemon) and Go with Debian's containerd sources (scripts/install-deps), for
# ctrbench. Debian's containerd and lvm2 packages (and the libraries lvm2 needs) are fetched with
# `apt-get download` into $THINSNAP_VM_CACHE/peers (default <build>/vm-cache/peers) and unpacked
# there; nothing is installed on the host. Prints the guest's log (with the host's load before
# and after), then a markdown table; writes <build>/bench/peers.{log,md} and an SVG bar chart
# <build>/bench/peers.svg (vm-tests/bench/bars-svg.sh); with --out DIR copies the three there.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
COUNT=30 OUT=""
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
CACHE=${THINSNAP_VM_CACHE:-$BUILD_DIR/vm-cache}
PEERS_PKGS=(containerd lvm2 libaio1 libdevmapper-event1.02.1 libedit2)

die() {
  echo "peers.sh: $*" >&2
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
PEERBENCH=$BUILD_DIR/vm-tests/peerbench
[[ -x $PEERBENCH ]] || die "$PEERBENCH not built: cmake --build $BUILD_DIR"
[[ -x $BUILD_DIR/cli/thinsnap ]] || die "$BUILD_DIR/cli/thinsnap not built"
[[ -x $BUILD_DIR/services/thinsnap-serve ]] || die "$BUILD_DIR/services/thinsnap-serve not built"
command -v go >/dev/null || die "go missing (run scripts/install-deps)"
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
CTRBENCH=$BUILD_DIR/bench/ctrbench
echo "building $CTRBENCH (Go $(go env GOVERSION), GOPATH mode against /usr/share/gocode)"
"$HERE/ctrbench/build.sh" "$CTRBENCH" || die "go build of ctrbench failed"

# host_load WHEN: the host's load and the other VMs on it (the run shares its cores with them).
host_load() {
  echo "host $1: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$(pgrep -c qemu-system || true) qemu processes (other VMs), $(date -u +%FT%TZ)"
}

LOG=$BUILD_DIR/bench/peers.log
TABLE=$BUILD_DIR/bench/peers.md
SVG=$BUILD_DIR/bench/peers.svg
export THINSNAP_BUILD_DIR=$BUILD_DIR THINSNAP_VM_CACHE=$CACHE
t0=$SECONDS
{
  host_load before
  "$REPO/vm-tests/run" --mem 3072 --timeout 3600 --nvme 2G --nvme 256M --nvme 1G \
    --include "$PEERS_DIR/root" --include "$PEERBENCH" --include "$CTRBENCH" \
    --include "$HERE/snapshotters-guest.sh" "${BEFORE_ARGS[@]}" \
    "$HERE/peers-guest.sh" "$COUNT" "$PEERS_DIR/root" "$PEERBENCH" "$HERE/snapshotters-guest.sh" \
    "$CTRBENCH" "$BEFORE"
  host_load after
  echo "wall time of the VM run: $((SECONDS - t0)) s"
} | tee "$LOG"
grep -q '^peers: done' "$LOG" || die "the guest did not finish (see $LOG)"

# The log's summary lines, parsed once for the table (MODE=table) and the chart (MODE=chart).
# kind(): which floor a row is measured against: create (+activate), messages, remove or none.
# shellcheck disable=SC2016 # awk's program, not the shell's
PARSE='
  / n=[0-9]+ median=/ {
    label = $1
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[label, kv[1]] = kv[2] }
    order[++rows] = label
  }
  function kind(l) {
    if (l ~ /-create-noactivate$|^floor[12]-messages$/) return "messages"
    if (l ~ /^served-.*-remove$|-gc-idle$|^start-|-remove-inactive$/) return ""
    if (l ~ /remove|-rm$/) return "remove"
    if (l ~ /create|prepare/) return "create"
    return ""
  }
  function mean2(a, b) { return (v[a, "median"] + v[b, "median"]) / 2 }
  function ratio(l,   k) {
    k = kind(l)
    return (k != "" && fl[k] > 0 && v[l, "median"] != "") ? v[l, "median"] / fl[k] : ""
  }
  function floors() {
    fl["create"] = mean2("floor1-create", "floor2-create")
    fl["remove"] = mean2("floor1-remove", "floor2-remove")
    fl["messages"] = mean2("floor1-messages", "floor2-messages")
    target["thinsnap-inproc-create-activate"] = 1.15
    target["thinsnap-inproc-remove"] = 1.1
    target["thinsnap-inproc-create-noactivate"] = 2
  }
  function verdict(l,   r) {
    if (!(l in target)) return "-"
    r = ratio(l)
    return sprintf("<= %.2fx: %s", target[l], (r != "" && r <= target[l]) ? "met" : "missed")
  }
'
# shellcheck disable=SC2016
TABLE_AWK='
  END {
    floors()
    print "| operation | n | median ms | p95 ms | max ms | x floor | floor | target (#15) |"
    print "|---|---:|---:|---:|---:|---:|---|---|"
    for (r = 1; r <= rows; r++) {
      l = order[r]
      x = ratio(l)
      printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", l, v[l, "n"], v[l, "median"], v[l, "p95"],
        v[l, "max"], x == "" ? "-" : sprintf("%.2f", x), kind(l) == "" ? "-" : kind(l), verdict(l)
    }
  }'
# The chart: contenders coloured alike in every panel; a bar per row, its ratio as the note.
# shellcheck disable=SC2016
CHART_AWK='
  function bar(name, l, who,   x, note) {
    if (l ~ /^floor:/) { k = substr(l, 7); m = fl[k]; note = "the floor" }
    else {
      if (v[l, "median"] == "") return
      m = v[l, "median"]; x = ratio(l)
      note = x == "" ? "" : sprintf("%.2fx floor", x)
      if (l in target) note = note sprintf(" (target <= %.2fx: %s)", target[l], x <= target[l] ? "met" : "missed")
    }
    printf "bar\t%s\t%s\nseg\t%s\t%.2f\n", name, note, who, m
  }
  END {
    floors()
    printf "title\tCreate and remove of one snapshot device, median ms (peers.sh, %s per row)\n", v["floor1-create", "n"]
    printf "subtitle\tOne QEMU TCG VM boot, one pool setup for all: compare the ratios, not the milliseconds.\n"
    printf "subtitle\tThe floor: raw libdevmapper calls (peerbench.c), mean of its runs first and last.\n"
    printf "panel\tthinsnap create + activate (served: Prepare+Mounts) against the floor\tms\n"
    bar("raw floor", "floor:create", "raw libdevmapper")
    bar("in-process", "thinsnap-inproc-create-activate", "thinsnap")
    bar("served", "served-thinsnap-prepare+mounts", "thinsnap")
    bar("CLI", "thinsnap-cli-create-activate", "thinsnap")
    printf "panel\tthinsnap create without activation against the two messages\tms\n"
    bar("raw messages", "floor:messages", "raw libdevmapper")
    bar("in-process", "thinsnap-inproc-create-noactivate", "thinsnap")
    bar("CLI", "thinsnap-cli-create-noactivate", "thinsnap")
    printf "panel\tthinsnap remove (served: Remove + garbage collection) against the floor\tms\n"
    bar("raw floor", "floor:remove", "raw libdevmapper")
    bar("in-process", "thinsnap-inproc-remove", "thinsnap")
    bar("served", "served-thinsnap-remove+gc", "thinsnap")
    bar("CLI", "thinsnap-cli-remove", "thinsnap")
    printf "panel\tcreate + activate, every contender\tms\n"
    bar("raw floor", "floor:create", "raw libdevmapper")
    bar("thinsnap in-process", "thinsnap-inproc-create-activate", "thinsnap")
    bar("thinsnap served", "served-thinsnap-prepare+mounts", "thinsnap")
    bar("devmapper served", "served-devmapper-prepare+mounts", "containerd devmapper")
    bar("overlayfs served", "served-overlayfs-prepare+mounts", "containerd overlayfs")
    bar("devmapper ctr CLI", "ctr-prepare", "containerd devmapper")
    bar("LVM lvcreate -s", "lvcreate-snapshot-activate", "LVM2")
    printf "panel\tremove, every contender (served: Remove + garbage collection)\tms\n"
    bar("raw floor", "floor:remove", "raw libdevmapper")
    bar("thinsnap in-process", "thinsnap-inproc-remove", "thinsnap")
    bar("thinsnap served", "served-thinsnap-remove+gc", "thinsnap")
    bar("devmapper served", "served-devmapper-remove+gc", "containerd devmapper")
    bar("overlayfs served", "served-overlayfs-remove+gc", "containerd overlayfs")
    bar("devmapper ctr rm", "ctr-rm", "containerd devmapper")
    bar("LVM lvremove", "lvremove", "LVM2")
  }'
awk "$PARSE$TABLE_AWK" "$LOG" | tee "$TABLE"
awk "$PARSE$CHART_AWK" "$LOG" | "$HERE/bars-svg.sh" >"$SVG"
echo "wrote $TABLE, $SVG and $LOG"
if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  cp "$TABLE" "$SVG" "$LOG" "$OUT/"
  echo "wrote $OUT/peers.md, $OUT/peers.svg and $OUT/peers.log"
fi
