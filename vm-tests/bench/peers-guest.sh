#!/bin/sh
# Description: guest half of vm-tests/bench/peers.sh (run it through that script, not directly).
# Usage: peers-guest.sh COUNT PEERS_ROOT PEERBENCH SNAPSHOTTERS_GUEST CTRBENCH [BEFORE]
#   SNAPSHOTTERS_GUEST: vm-tests/bench/snapshotters-guest.sh, run here for the served rows
#   (thinsnap serve, devmapper, overlayfs through containerd's Go client, ctrbench), with
#   containerd from PEERS_ROOT like the ctr rows; its lines are printed as served-NAME-OP.
#   BEFORE: another thinsnap binary (an older build) measured beside the current one.
# Prints "LABEL n=N median=MS p95=MS max=MS" lines, which the host turns into the table.
#   /dev/nvme0n1 = pool data, /dev/nvme1n1 = pool metadata, /dev/nvme2n1 = state filesystem
#   (thinsnap's root, containerd's root, LVM's archive all live on one ext4 there).
# Every contender gets a fresh pool on the same two devices, one after the other: 64 KiB blocks,
# skip_block_zeroing, a 1 GiB ext4 origin that is inactive while its snapshots are made.
set -eu
# shellcheck disable=SC1091 # the harness provides it inside the guest
. /vm/lib/common.sh

N=$1 PEERS=$2 PB=$3 SNAPSHOTTERS_GUEST=$4 CTRBENCH=$5 BEFORE=${6:-}
DATA=/dev/nvme0n1 META=/dev/nvme1n1 STATE_DEV=/dev/nvme2n1
ORIGIN_SECTORS=2097152  # 1 GiB
BLOCK_SECTORS=128       # 64 KiB

export LD_LIBRARY_PATH="$PEERS/usr/lib/x86_64-linux-gnu:$PEERS/lib/x86_64-linux-gnu"
PATH="$PEERS/usr/bin:$PEERS/usr/sbin:$PEERS/sbin:$PATH"

# record: passes summary lines through (a hook to keep one place that sees them all).
record() { cat; }

wipe_devices() {
  dmsetup remove_all 2>/dev/null || true
  dd if=/dev/zero of=$META bs=1M count=8 conv=fsync 2>/dev/null
  dd if=/dev/zero of=$DATA bs=1M count=8 conv=fsync 2>/dev/null
}

# make_pool NAME: a dm-thin pool on the bench devices, as thinsnap and LVM make it.
make_pool() {
  wipe_devices
  data_sectors=$(blockdev --getsz $DATA)
  run dmsetup create "$1" --table \
    "0 $data_sectors thin-pool $META $DATA $BLOCK_SECTORS 1024 1 skip_block_zeroing"
}

run mkfs.ext4 -q -F $STATE_DEV
mkdir -p /state
run mount $STATE_DEV /state

step "process start: a static busybox vs thinsnap --version"
"$PB" exec start-static-busybox "$N" busybox true | record
"$PB" exec start-thinsnap-version "$N" thinsnap --version | record
if [ -n "$BEFORE" ]; then "$PB" exec start-before-version "$N" "$BEFORE" --version | record; fi

floor() {
  step "floor ($1): raw libdevmapper calls"
  make_pool floorpool
  run dmsetup message floorpool 0 "create_thin 0"
  run dmsetup message floorpool 0 "set_transaction_id 0 1"
  run dmsetup create floor-origin --table "0 $ORIGIN_SECTORS thin /dev/mapper/floorpool 0"
  run mkfs.ext4 -q -E nodiscard /dev/mapper/floor-origin
  run dmsetup remove floor-origin
  "$PB" floor floorpool 0 1 "$N" $ORIGIN_SECTORS | sed "s/^floor-/floor$1-/" | record
  run dmsetup remove floorpool
}

# inproc_rows CREATE-LABEL REMOVE-LABEL: `bench ops` text output (stdin) as two summary lines.
inproc_rows() {
  awk -v n="$N" -v c="$1" -v r="$2" '/^create:|^remove:/ {
      printf "%s n=%d median=%s p95=%s max=%s\n", ($1 == "create:") ? c : r, n, $3, $6, $9 }'
}

thinsnap_run() {
  step "thinsnap: CLI and in-process"
  wipe_devices
  R=/state/ts
  ts() { thinsnap --root "$R" "$@"; }
  run ts pool create --data $DATA --metadata $META --block-size 64k --base-size 1G --force
  run ts layer create L
  run ts layer seal L
  "$PB" exec thinsnap-cli-create-activate "$N" thinsnap --root $R container create c%d --from L \
    --activate | record
  "$PB" exec thinsnap-cli-remove "$N" thinsnap --root $R rm c%d | record
  "$PB" exec thinsnap-cli-create-noactivate "$N" thinsnap --root $R container create d%d --from L |
    record
  "$PB" exec thinsnap-cli-remove-inactive "$N" thinsnap --root $R rm d%d | record
  if [ -n "$BEFORE" ]; then
    "$PB" exec before-cli-create-activate "$N" "$BEFORE" --root $R container create b%d --from L \
      --activate | record
    "$PB" exec before-cli-remove "$N" "$BEFORE" --root $R rm b%d | record
    "$BEFORE" --root $R bench ops --from L --count "$N" --activate | tee /tmp/ops-before.txt
    inproc_rows before-inproc-create-activate before-inproc-remove </tmp/ops-before.txt | record
  fi
  ts bench ops --from L --count "$N" --activate | tee /tmp/ops.txt
  inproc_rows thinsnap-inproc-create-activate thinsnap-inproc-remove </tmp/ops.txt | record
  ts bench ops --from L --count "$N" | tee /tmp/ops-noactivate.txt
  inproc_rows thinsnap-inproc-create-noactivate thinsnap-inproc-remove-inactive \
    </tmp/ops-noactivate.txt | record
  run ts pool check
  run ts pool deactivate
}

containerd_run() {
  step "containerd $(containerd --version | awk '{ print $3 }'): devmapper snapshotter, ctr snapshots"
  make_pool ctdpool
  C=/state/ctd
  mkdir -p $C /run/ctd
  cat >$C/config.toml <<EOF
version = 2
root = "$C/root"
state = "/run/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "/run/ctd/containerd.sock"
[plugins."io.containerd.snapshotter.v1.devmapper"]
  pool_name = "ctdpool"
  root_path = "$C/devmapper"
  base_image_size = "1GB"
  discard_blocks = false
  fs_type = "ext4"
EOF
  containerd --config $C/config.toml >/tmp/containerd.log 2>&1 &
  ctd_pid=$!
  i=0
  while [ ! -S /run/ctd/containerd.sock ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  [ -S /run/ctd/containerd.sock ] || { tail -30 /tmp/containerd.log; fail "containerd did not start"; }
  ctr_snap() { ctr -a /run/ctd/containerd.sock snapshots --snapshotter devmapper "$@"; }
  run ctr_snap prepare base-active
  run ctr_snap commit base base-active
  "$PB" exec ctr-prepare "$N" ctr -a /run/ctd/containerd.sock snapshots --snapshotter devmapper \
    prepare c%d base | record
  "$PB" exec ctr-rm "$N" ctr -a /run/ctd/containerd.sock snapshots --snapshotter devmapper \
    rm c%d | record
  grep -i 'level=error' /tmp/containerd.log | grep -iv 'cri\|aufs\|btrfs\|zfs' | head -5 || true
  kill $ctd_pid
  wait $ctd_pid 2>/dev/null || true
}

# served: snapshotters-guest.sh (it formats the state filesystem again and mounts it on /state),
# its ctrbench lines renamed served-NAME-OP.
served_run() {
  step "served: containerd's Go client (ctrbench) on thinsnap serve, devmapper, overlayfs"
  run umount /state
  sh "$SNAPSHOTTERS_GUEST" "$N" "$CTRBENCH" thinsnap devmapper overlayfs | awk '
    / n=[0-9]+ median=/ && $1 ~ /^(thinsnap|devmapper|overlayfs)-/ { $1 = "served-" $1 }
    { print; fflush() }' | tee /tmp/served.txt | record
  grep -q '^snapshotters: done' /tmp/served.txt || fail "snapshotters-guest.sh did not finish"
}

lvm_run() {
  step "LVM2 $(lvm version | awk '/LVM version/ { print $3 }'): lvcreate -s + activation, lvremove"
  wipe_devices
  mkdir -p /etc/lvm /run/lock/lvm /run/lvm
  cat >/etc/lvm/lvm.conf <<EOF
devices {
  obtain_device_list_from_udev = 0
  external_device_info_source = "none"
  use_devicesfile = 0
  filter = [ "a|^$DATA\$|", "r|.*|" ]
}
activation {
  udev_sync = 0
  udev_rules = 0
  monitoring = 0
}
global {
  use_lvmpolld = 0
}
EOF
  run lvm pvcreate -q -y $DATA
  run lvm vgcreate -q vg $DATA
  run lvm lvcreate -q --type thin-pool -L 1600M --poolmetadatasize 64M --chunksize 64k --zero n \
    -n pool vg
  run lvm lvcreate -q -V 1G -T vg/pool -n origin
  run mkfs.ext4 -q -E nodiscard /dev/mapper/vg-origin
  run lvm lvchange -q -an vg/origin
  "$PB" exec lvcreate-snapshot-activate "$N" lvm lvcreate -q -s -kn -n s%d vg/origin | record
  [ -b /dev/mapper/vg-s0 ] || fail "lvcreate did not activate vg/s0"
  "$PB" exec lvremove "$N" lvm lvremove -q -f vg/s%d | record
  run lvm vgremove -q -f vg
}

# strace_profile LABEL COUNT CMD...: CMD under strace -f; per operation of each phase (create:
# from the first create_snap message, remove: from the first DM_DEV_REMOVE or delete message;
# what comes before is open), the calls and the time in the kernel of each syscall (ioctls by dm
# command, messages by verb), on the main thread and on the others, sorted by time, and the
# phase's wall time per operation under strace. Calls left unfinished across a phase boundary
# count in the phase they end in.
strace_profile() {
  _label=$1 _count=$2
  shift 2
  strace -f -v -s 64 -ttt -T -o /tmp/strace.txt "$@" >/dev/null
  _out=$(strace_summary "$_label" "$_count")
  if [ -n "$_out" ]; then
    echo "$_out"
  else
    echo "$_label: no create_snap message found; strace's first ioctls:"
    grep ioctl /tmp/strace.txt | head -n 8
  fi
}

# strace_summary LABEL COUNT: the summary of /tmp/strace.txt for strace_profile.
strace_summary() {
  awk -v n="$2" -v label="$1" '
    {
      pid = $1; ts = $2; line = $0; sub(/^[0-9]+ +[0-9.]+ +/, "", line)
      if (line ~ /^<\.\.\. [a-z0-9_]+ resumed>/) {
        full = pend[pid]; name = line; sub(/^<\.\.\. /, "", name); sub(/ resumed>.*/, "", name)
      } else if (match(line, /^[a-z0-9_]+\(/)) {
        full = line; name = substr(line, 1, RLENGTH - 1)
      } else next
      if (line ~ /<unfinished \.\.\.>$/) { pend[pid] = line; next }
      if (!match(line, /<[0-9.]+>$/)) next
      d = substr(line, RSTART + 1, RLENGTH - 2) * 1000
      if (name == "ioctl" && match(full, /DM_[A-Z_]+/)) {
        name = substr(full, RSTART, RLENGTH)
        if (name == "DM_TARGET_MSG" && match(full, /message="[a-z_]+/))
          name = name "(" substr(full, RSTART + 9, RLENGTH - 9) ")"
      }
      if (phase == "") phase = "open"
      if (phase == "open" && name == "DM_TARGET_MSG(create_snap)") phase = "create"
      if (phase == "create" && (name == "DM_DEV_REMOVE" || name == "DM_TARGET_MSG(delete)")) phase = "remove"
      if (main == "") main = pid
      who = (pid == main) ? "main" : "other"
      k = phase SUBSEP who SUBSEP name
      if (!(k in cnt)) keys[++nk] = k
      cnt[k]++; tm[k] += d
      if (pid == main) { if (!(phase in t0)) t0[phase] = ts; t1[phase] = ts + d / 1000 }
    }
    END {
      for (i = 1; i <= nk; i++) {
        split(keys[i], f, SUBSEP)
        if (f[1] == "open") continue
        printf "%s-%s %s %.2f ms %.2f calls %s\n", label, f[1], f[2], tm[keys[i]] / n,
          cnt[keys[i]] / n, f[3]
      }
      for (p in t0) if (p != "open")
        printf "%s-%s wall %.2f ms per op under strace\n", label, p, (t1[p] - t0[p]) * 1000 / n
    }' /tmp/strace.txt | sort -k1,1 -k2,2 -k3,3nr
}

# profile: where the in-process path's time goes, per operation, next to the floor's (after the
# measured rows, so strace slows none of them).
profile_run() {
  command -v strace >/dev/null || { echo "profile: no strace in the VM, skipped"; return 0; }
  step "profile: syscalls per operation under strace -f (floor, in-process with and without activation)"
  make_pool floorpool
  run dmsetup message floorpool 0 "create_thin 0"
  run dmsetup message floorpool 0 "set_transaction_id 0 1"
  strace_profile profile-floor "$N" "$PB" floor floorpool 0 1 "$N" $ORIGIN_SECTORS
  run dmsetup remove floorpool
  wipe_devices
  R=/state/ts-profile
  run thinsnap --root $R pool create --data $DATA --metadata $META --block-size 64k --base-size 1G \
    --force
  run thinsnap --root $R layer create L
  run thinsnap --root $R layer seal L
  strace_profile profile-inproc-activate "$N" thinsnap --root $R bench ops --from L --count "$N" \
    --activate
  strace_profile profile-inproc-noactivate "$N" thinsnap --root $R bench ops --from L --count "$N"
  run thinsnap --root $R pool deactivate
}

floor 1
thinsnap_run
served_run
containerd_run
lvm_run
floor 2
profile_run
echo "peers: done"
