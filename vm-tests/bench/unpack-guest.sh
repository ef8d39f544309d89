#!/bin/sh
# Description: guest half of vm-tests/bench/unpack.sh (run it through that script).
# Usage: unpack-guest.sh UNPACKBENCH REF [PART...]   (default parts: containerd layers)
#   /dev/vda      an ext4 image holding image.tar (the OCI image REF), layers/ (its layer tars)
#                 and layers.txt (vm-tests/bench/unpack-image.sh); copied into the guest's tmpfs,
#                 so every contender reads its input from memory
#   /dev/nvme0n1  thinsnap's pool data, /dev/nvme1n1 its metadata; /dev/nvme3n1 and
#                 /dev/nvme4n1 the same for the devmapper snapshotter's pool (64 KiB blocks,
#                 skip_block_zeroing, a 1 GiB ext4 base, for both alike)
#   /dev/nvme2n1  an ext4 state filesystem: containerd's root (its content store, and
#                 overlayfs's directories), thinsnap's root, the devmapper snapshotter's root_path
# containerd: one containerd with the three snapshotters (thinsnap through `thinsnap serve` as
# its proxy plugin, devmapper, overlayfs), so they share one content store and one time window
# (`ctr image import --snapshotter NAME` is the first two steps in one command):
#   ingest    `ctr image import --no-unpack image.tar` (the content, once)
#   unpack    Image.Unpack into each snapshotter (UNPACKBENCH, containerd's Go client), and the
#             unpacked tree's digest
#   splitR    SPLIT_ROUNDS rounds of the same unpack step by step (UNPACKBENCH -split) into each,
#             the order rotated every round: the snapshotter's Prepare, the diff service's Apply
#             and the snapshotter's Commit, each summed over the layers
# layers: on a fresh thinsnap pool, per layer in order `thinsnap layer import` against GNU tar -x
# of the same tar onto a fresh thinsnap layer device: tar -x, tar -x followed by sync, and apart
# the device's setup (`layer create` + `mount`) and teardown (`unmount` + `layer seal`); and
# `openssl dgst -sha256` of the tar (layer import digests what it applies, tar does not).
# The page cache is dropped (after a sync) before every timed step.
# Prints "result LABEL STEP ms=MS", "tree LABEL STEP SHA" (a digest of the unpacked tree's names,
# types, modes, sizes, link targets and contents, mtimes left out) and "layer ..." lines.
set -eu
# shellcheck disable=SC1091 # the harness provides them inside the guest
. /vm/lib/common.sh
# shellcheck disable=SC1091
. /vm/lib/containerd.sh

UNPACKBENCH=$1 REF=$2
shift 2
[ $# -gt 0 ] || set -- containerd layers
DATA=/dev/nvme0n1 META=/dev/nvme1n1 STATE_DEV=/dev/nvme2n1 DM_DATA=/dev/nvme3n1 DM_META=/dev/nvme4n1
IMG_DEV=/dev/vda
BLOCK_SECTORS=128 # 64 KiB
U=/tmp/unpack
SNAPSHOTTERS="thinsnap devmapper overlayfs"
SPLIT_ROUNDS=2
trap ctd_cleanup EXIT

wipe_devices() {
  dmsetup remove_all 2>/dev/null || true
  for _d in $META $DATA $DM_META $DM_DATA; do
    dd if=/dev/zero of="$_d" bs=1M count=8 conv=fsync 2>/dev/null
  done
}

drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
}

# timed LABEL STEP CMD...: CMD after a sync and a cache drop; prints "result LABEL STEP ms=MS".
timed() {
  _label=$1 _step=$2
  shift 2
  drop_caches
  echo "+ $*"
  _t0=$(ms_now)
  "$@" >/tmp/timed.out 2>&1 || { cat /tmp/timed.out; fail "$_label $_step: $* failed"; }
  _t1=$(ms_now)
  tail -n 5 /tmp/timed.out
  echo "result $_label $_step ms=$((_t1 - _t0))"
}

# tree_sum DIR: sha256 of a tar of DIR's tree (sorted, lost+found left out, mtimes and owners
# fixed): equal trees give equal sums whoever unpacked them.
tree_sum() {
  (cd "$1" && find . -mindepth 1 ! -path ./lost+found ! -path './lost+found/*' | LC_ALL=C sort |
    tar --no-recursion --format=gnu --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -T - |
    sha256sum | cut -c1-16)
}

# The image's chain ID (the top layer's snapshot in containerd), from the layers' digests
# (uncompressed layers: digest = diff ID).
chain_id() {
  _c=""
  while read -r _f _d _rest <&3; do
    if [ -z "$_c" ]; then _c=$_d; else _c=sha256:$(printf '%s %s' "$_c" "$_d" | sha256sum | cut -d' ' -f1); fi
  done 3<"$U/layers.txt"
  echo "$_c"
}

# ctd_tree LABEL STEP SNAPSHOTTER: the unpacked image's tree, through an active snapshot on its
# top one. Not a view: ctr 1.6 gives a view no gc.root label and no lease, so the collection the
# import's lease release schedules may remove it before it is mounted ("does not exist");
# `ctr snapshots prepare` labels its snapshot a GC root.
ctd_tree() {
  mkdir -p /mnt/chk
  _cmd=$(cctr snapshots --snapshotter "$3" prepare -t /mnt/chk "chk-$2" "$CHAIN" | sed 's/ -o $//')
  echo "+ $_cmd"
  sh -c "$_cmd" || fail "$1: mount a snapshot on $CHAIN"
  echo "tree $1 $2 $(tree_sum /mnt/chk)"
  umount /mnt/chk
  run cctr snapshots --snapshotter "$3" rm "chk-$2"
}

# unpack SNAPSHOTTER: Image.Unpack into it (the image's content is in), then its tree.
unpack() {
  drop_caches
  echo "+ $UNPACKBENCH -snapshotter $1 -image $REF"
  "$UNPACKBENCH" -address "$CTD_SOCK" -namespace "$CTD_NS" -image "$REF" -snapshotter "$1" \
    >/tmp/unpack.out || { ctd_log_errors 20; fail "$1: unpackbench failed"; }
  cat /tmp/unpack.out
  awk '$2 == "unpack" { split($3, kv, "="); printf "result %s unpack ms=%d\n", $1, kv[2] + 0.5 }' /tmp/unpack.out
  grep -q "chain=$CHAIN\$" /tmp/unpack.out || fail "$1: unpacked chain is not $CHAIN"
  ctd_tree "$1" unpack "$1"
}

# split_unpack SNAPSHOTTER ROUND: the unpack step by step (unpackbench -split), once more; its sums
# become "result SNAPSHOTTER splitROUND-prepare|apply|commit" lines.
split_unpack() {
  echo "+ $UNPACKBENCH -snapshotter $1 -image $REF -split -round $2 -drop-caches"
  "$UNPACKBENCH" -address "$CTD_SOCK" -namespace "$CTD_NS" -image "$REF" -snapshotter "$1" \
    -split -round "$2" -drop-caches >/tmp/split.out || { ctd_log_errors 20; fail "$1: unpackbench -split failed"; }
  cat /tmp/split.out
  awk -v r="$2" '$2 == "split" r && $3 == "all" {
      for (i = 4; i <= NF; i++) { split($i, kv, "="); printf "result %s split%d-%s ms=%d\n", $1, r, kv[1], kv[2] + 0.5 }
    }' /tmp/split.out
}

# rotated N: SNAPSHOTTERS rotated left by N places.
rotated() {
  echo "$SNAPSHOTTERS" | awk -v k="$1" '{
      for (i = 0; i < NF; i++) printf "%s%s", $((i + k) % NF + 1), (i < NF - 1 ? " " : "\n") }'
}

# run_containerd: one containerd with all three snapshotters, each on its own storage of the
# same kind: thinsnap (`thinsnap serve`, pool on nvme0n1 + nvme1n1), devmapper (its pool of the
# same settings on nvme3n1 + nvme4n1), overlayfs (directories on the ext4 state filesystem,
# which also holds containerd's content store). The content is ingested once; then Image.Unpack
# into each, and SPLIT_ROUNDS rounds of the step-by-step unpack, the order rotated every round,
# so that a change in the host's load falls on all three alike.
run_containerd() {
  step "containerd: thinsnap (proxy), devmapper, overlayfs behind one containerd"
  wipe_devices
  R=/state/ts
  run thinsnap --root "$R" pool create --data $DATA --metadata $META --block-size 64k \
    --base-size 1G --force
  run dmsetup create ctdpool --table \
    "0 $(blockdev --getsz $DM_DATA) thin-pool $DM_META $DM_DATA $BLOCK_SECTORS 1024 1 skip_block_zeroing"
  dmsetup table | grep thin-pool
  mkdir -p "$(dirname "$TS_SOCK")"
  ts_serve_start "$R"
  # shellcheck disable=SC2034 # read by the helpers of containerd.sh
  CTD_DIR=/state/ctd CTD_CONFIG=/state/ctd/config.toml CTD_LOG=/state/ctd/containerd.log \
    CTD_DISABLED='"io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs"'
  ctd_start "[plugins.\"io.containerd.snapshotter.v1.devmapper\"]
  pool_name = \"ctdpool\"
  root_path = \"/state/devmapper\"
  base_image_size = \"1GB\"
  discard_blocks = false
  fs_type = \"ext4\""
  timed containerd ingest cctr images import --no-unpack "$U/image.tar"
  for _sn in $SNAPSHOTTERS; do unpack "$_sn"; done
  _r=1
  while [ $_r -le $SPLIT_ROUNDS ]; do
    for _sn in $(rotated $_r); do split_unpack "$_sn" $_r; done
    _r=$((_r + 1))
  done
  for _sn in $SNAPSHOTTERS; do
    echo "$_sn: $(cctr snapshots --snapshotter "$_sn" ls | tail -n +2 | wc -l) snapshots left (the image's)"
  done
  ctd_log_errors 5
  ctd_stop
  ts_serve_stop
  run thinsnap --root "$R" pool check
  run thinsnap --root "$R" pool deactivate
  dmsetup status ctdpool
  dmsetup remove_all
}

# tar_x N FILE PREV: GNU tar -x of FILE onto a fresh layer device tarN on tarPREV. Each part is
# timed on its own: setup (`layer create` + `mount`: the device work `layer import` does before
# it applies), tar -x, sync, teardown (`unmount` + `layer seal`: the device work after it).
tar_x() {
  mkdir -p /mnt/tar
  drop_caches
  _t0=$(ms_now)
  run thinsnap --root "$R" layer create "tar$1" ${3:+--parent "tar$3"}
  run thinsnap --root "$R" mount "tar$1" /mnt/tar
  _t1=$(ms_now)
  echo "+ tar -xf $2 -C /mnt/tar; sync"
  tar -xf "$2" -C /mnt/tar || fail "tar -xf $2"
  _t2=$(ms_now)
  sync
  _t3=$(ms_now)
  run thinsnap --root "$R" unmount "tar$1"
  run thinsnap --root "$R" layer seal "tar$1"
  _t4=$(ms_now)
  echo "result layers tar-setup:L$1 ms=$((_t1 - _t0))"
  echo "result layers tar-x:L$1 ms=$((_t2 - _t1))"
  echo "result layers tar-x+sync:L$1 ms=$((_t3 - _t1))"
  echo "result layers tar-teardown:L$1 ms=$((_t4 - _t3))"
}

# trace_layer1: where the time of the first layer (the one of many small files) goes, untimed:
# `strace -c -f` (syscall counts and time) of `layer import` and of tar -x onto a fresh layer
# device, each onto a new layer; prints strace's tables and "strace import|tar SYSCALL CALLS
# SECONDS" lines for the most frequent calls and the total.
trace_layer1() {
  command -v strace >/dev/null || { echo "trace: no strace in the VM"; return 0; }
  read -r _file _rest <"$U/layers.txt"
  drop_caches
  echo "+ strace -c -f thinsnap layer import trace-imp $U/layers/$_file"
  strace -c -f -S calls -o /tmp/strace-import thinsnap --root "$R" layer import trace-imp "$U/layers/$_file" >/dev/null ||
    fail "strace of layer import"
  run thinsnap --root "$R" layer create trace-tar
  run thinsnap --root "$R" mount trace-tar /mnt/tar
  drop_caches
  echo "+ strace -c -f tar -xf $U/layers/$_file -C /mnt/tar"
  strace -c -f -S calls -o /tmp/strace-tar tar -xf "$U/layers/$_file" -C /mnt/tar || fail "strace of tar -x"
  run thinsnap --root "$R" unmount trace-tar
  for _t in import tar; do
    cat "/tmp/strace-$_t"
    # "strace WHO SYSCALL CALLS SECONDS" for the 12 most frequent calls and the total.
    awk -v t="$_t" '$1 ~ /^[0-9.]+$/ && NF >= 5 { calls = $4; name = $NF
        if (name == "total" || n++ < 12) printf "strace %s %s %d %s\n", t, name, calls, $2 }' "/tmp/strace-$_t"
  done
}

run_layers() {
  step "thinsnap layer import against GNU tar -x onto a fresh thinsnap layer device"
  tar --version | head -n 1 | grep -q 'GNU tar' || fail "tar in the VM is not GNU tar"
  command -v openssl >/dev/null || fail "openssl is not in the VM"
  wipe_devices
  R=/state/layers
  run thinsnap --root "$R" pool create --data $DATA --metadata $META --block-size 64k \
    --base-size 1G --force
  _n=0 _prev=""
  while read -r _file _digest _bytes _entries _what <&3; do
    _n=$((_n + 1))
    echo "layer L$_n $_file bytes=$_bytes entries=$_entries what=$_what digest=$_digest"
    timed layers "import:L$_n" thinsnap --root "$R" layer import "imp$_n" ${_prev:+--parent "imp$_prev"} \
      "$U/layers/$_file"
    tar_x "$_n" "$U/layers/$_file" "$_prev"
    # layer import digests the stream it applies (OpenSSL's sha256); tar -x does not.
    timed layers "sha256:L$_n" openssl dgst -sha256 "$U/layers/$_file"
    _prev=$_n
  done 3<"$U/layers.txt"
  mkdir -p /mnt/chk
  run thinsnap --root "$R" mount "imp$_n" /mnt/chk
  echo "tree layers import $(tree_sum /mnt/chk)"
  run thinsnap --root "$R" unmount "imp$_n"
  trace_layer1
  thinsnap --root "$R" df
  run thinsnap --root "$R" pool check
  run thinsnap --root "$R" pool deactivate
}

mkdir -p /img "$U"
run mount -o ro,noload $IMG_DEV /img
_t0=$(ms_now)
cp -r /img/image.tar /img/layers.txt /img/layers "$U/"
umount /img
echo "unpack: input copied into tmpfs in $(($(ms_now) - _t0)) ms: $(du -sm "$U" | cut -f1) MiB"
cat "$U/layers.txt"
CHAIN=$(chain_id)
echo "unpack: kernel $(uname -r), $(nproc) CPUs, image $REF, chain $CHAIN"
run mkfs.ext4 -q -F $STATE_DEV
mkdir -p /state
run mount $STATE_DEV /state
for part in "$@"; do
  case $part in
    containerd) run_containerd ;;
    layers) run_layers ;;
    *) fail "unknown part $part" ;;
  esac
done
echo "unpack: done"
