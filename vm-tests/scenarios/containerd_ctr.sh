#!/bin/sh
# Description: real containers on thinsnap: containerd 1.6 + runc run busybox from an imported OCI image on thinsnap's block devices (plugin ok, isolation, 8 in parallel, Usage sizes and inodes, image rm + GC removes the devices, the size label grows df); pool check and thin_check clean
# VM-Args: --mem 3072 --timeout 840 --include /usr/bin/containerd --include /usr/bin/ctr --include /usr/bin/containerd-shim-runc-v2 --include /usr/sbin/runc
# containerd deletes a container's snapshot right after unmounting it; the kernel may still hold
# the device for a moment (the delete is retried), and says so:
# Expect-kernel: device-mapper: thin: Deletion of thin device [0-9]+ failed
# Usage: containerd_ctr.sh [SNAPSHOTTER]   (default thinsnap; another name, e.g. overlayfs, runs
# only the container checks against containerd's own snapshotter: a check of the harness itself)
set -u
# shellcheck disable=SC1091 # the harness provides them inside the guest
. /vm/lib/common.sh
# shellcheck disable=SC1091
. /vm/lib/containerd.sh

SN=${1:-thinsnap}
R=/tmp/ts
IMG=thinsnap.test/busybox:1
SIZE_LABEL=containerd.io/snapshot/thinsnap.size
ts() { thinsnap --root "$R" "$@"; }
trap ctd_cleanup EXIT

# crun NAME [CTR RUN OPTIONS...] -- CMD...: `ctr run --rm` of the image, output on stdout.
crun() {
  _name=$1
  shift
  _opts=""
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    _opts="$_opts $1"
    shift
  done
  shift
  # shellcheck disable=SC2086 # the options are single words
  cctr run --rm --no-pivot --snapshotter "$SN" $_opts "$IMG" "$_name" "$@"
}

# thin_devices: the names of thinsnap's active thin devices (not the pool), sorted.
thin_devices() {
  dmsetup ls | awk '$1 ~ /^thinsnap-/ && $1 !~ /-pool$/ { print $1 }' | sort | tr '\n' ' '
}

# ts_names: what `thinsnap ls` lists, sorted, without ctd-root (the empty root layer that
# serve makes at the first parentless Prepare and keeps).
ts_names() {
  ts ls | awk 'NR > 1 && $1 != "ctd-root" { print $1 }' | sort | tr '\n' ' '
}

if [ "$SN" = thinsnap ]; then
  step "a loopback pool and thinsnap serve on it"
  run ts pool create --loopback --data-size 2G --metadata-size 64M --base-size 128M
  ts_serve_start "$R"
  names_before=$(ts_names)
  devs_before=$(thin_devices)
fi
ctd_require containerd-shim-runc-v2 runc
ctd_start
ctd_wait_snapshotter "$SN"

step "ctr plugins ls lists $SN ok"
cctr plugins ls | awk 'NR == 1 || $1 == "io.containerd.snapshotter.v1"'
status=$(cctr plugins ls | awk -v sn="$SN" '$1 == "io.containerd.snapshotter.v1" && $2 == sn { print $NF }')
check_eq "$status" ok "plugin $SN"
run cctr snapshots --snapshotter "$SN" ls

step "build an OCI image from busybox-static and import it with --snapshotter $SN"
run ctd_make_image /tmp/busybox-oci.tar "$IMG"
run cctr image import --snapshotter "$SN" /tmp/busybox-oci.tar
cctr snapshots --snapshotter "$SN" ls
layers=$(cctr snapshots --snapshotter "$SN" ls | awk 'NR > 1 && $NF == "Committed"' | wc -l)
check_eq "$layers" 1 "committed snapshots after the import"
if [ "$SN" = thinsnap ]; then
  ts ls
  check_ne "$(ts_names)" "$names_before" "thinsnap ls after the import"
fi

step "a container writes /f and reads it back"
out=$(crun c1 -- sh -c 'echo hi > /f && cat /f') || fail "ctr run c1 failed: $out"
check_eq "$out" hi "c1's output"

step "a second container does not see /f; its root is the snapshot's own filesystem"
# shellcheck disable=SC2016 # expanded by the container's shell
out=$(crun c2 -- sh -c 'if [ -e /f ]; then echo "sees /f"; else echo clean; fi; awk "\$2 == \"/\" { print \$1, \$3 }" /proc/mounts') ||
  fail "ctr run c2 failed: $out"
echo "$out"
check_eq "$(echo "$out" | head -n1)" clean "c2 and /f"
root_mount=$(echo "$out" | tail -n1)
if [ "$SN" = thinsnap ]; then
  case $root_mount in
    /dev/mapper/thinsnap-*" ext4") ;;
    *) fail "c2's root is '$root_mount', expected a thinsnap device with ext4" ;;
  esac
fi

step "8 containers started in parallel all run"
i=1
while [ $i -le 8 ]; do
  # SIGKILL: ctr run passes other signals on to the container.
  timeout -s KILL 300 ctr -a "$CTD_SOCK" -n "$CTD_NS" run --rm --no-pivot --snapshotter "$SN" \
    "$IMG" "p$i" sh -c "echo p$i > /id && cat /id && ls /bin/busybox" >"/tmp/p$i.out" 2>&1 &
  eval "pid$i=\$!"
  i=$((i + 1))
done
i=1
while [ $i -le 8 ]; do
  if ! eval "wait \$pid$i"; then
    cat "/tmp/p$i.out"
    cctr tasks ls
    # shellcheck disable=SC2009 # the whole table is the point
    ps -o pid,ppid,stat,args | grep -v ' \['
    ctd_log_errors 20
    fail "container p$i exited non-zero (or did not finish in 300 s)"
  fi
  check_eq "$(cat "/tmp/p$i.out")" "p$i
/bin/busybox" "container p$i's output"
  i=$((i + 1))
done
check_eq "$(cctr containers ls -q | wc -l)" 0 "containers left after --rm"

if [ "$SN" = thinsnap ]; then
  step "the size label $SIZE_LABEL gives a container a bigger filesystem"
  df_of() { awk 'NR == 2 { print $2 }'; }
  # -P: one line per filesystem (busybox wraps long device names otherwise).
  small=$(crun s1 -- df -P -k / | df_of) || fail "ctr run s1"
  big=$(crun s2 --snapshotter-label "$SIZE_LABEL=512M" -- df -P -k / | df_of) || fail "ctr run s2"
  echo "df / in KiB: default $small, with $SIZE_LABEL=512M: $big"
  check_gt "$small" 0 "default container's df"
  check_gt "$big" $((small * 3)) "labelled container's df (3x the 128M default)"
  check_gt 524288 "$big" "labelled container's df (at most 512M)"
fi

if [ "$SN" = thinsnap ]; then
  step "Usage: a snapshot with 50 files of 64 KiB written through its mount, active and committed"
  # usage KEY: sets size and inodes as `ctr snapshots usage -b` reports them.
  usage() {
    _u=$(cctr snapshots --snapshotter "$SN" usage -b "$1" | awk 'NR == 2 { print $2, $3 }')
    size=${_u% *} inodes=${_u#* }
    echo "usage of $1: size $size bytes, inodes $inodes"
  }
  layer=$(cctr snapshots --snapshotter "$SN" ls | awk 'NR > 1 && $NF == "Committed" { print $1 }')
  run cctr snapshots --snapshotter "$SN" prepare u1 "$layer"
  mnt=$(cctr snapshots --snapshotter "$SN" mounts /tmp/u1 u1)
  echo "$mnt"
  mkdir -p /tmp/u1
  # "mount -t TYPE SOURCE TARGET -o OPTIONS": an ext4 snapshot's options are empty.
  run mount -t "$(echo "$mnt" | awk '{ print $3 }')" "$(echo "$mnt" | awk '{ print $4 }')" /tmp/u1
  mkdir /tmp/u1/files
  i=1
  while [ $i -le 50 ]; do
    dd if=/dev/urandom of="/tmp/u1/files/f$i" bs=64k count=1 2>/dev/null || fail "write f$i"
    i=$((i + 1))
  done
  sync
  usage u1  # active and mounted here
  check_gt "$size" $((50 * 65536 - 1)) "u1's size (bytes mapped by it alone)"
  check_gt "$inodes" 50 "u1's inodes (50 files and a directory over its parent)"
  check_gt 2000 "$inodes" "u1's inodes (not the whole filesystem's)"
  run umount /tmp/u1
  run cctr snapshots --snapshotter "$SN" commit u1c u1
  usage u1c  # committed, not mounted: read through a short read-only mount
  check_gt "$size" $((50 * 65536 - 1)) "u1c's size"
  check_gt $((64 << 20)) "$size" "u1c's size (at most 64 MiB)"
  check_gt "$inodes" 50 "u1c's inodes"
  check_gt 2000 "$inodes" "u1c's inodes"
  # The layer's blocks are shared with u1c while it exists: not the layer's alone.
  run cctr snapshots --snapshotter "$SN" rm u1c
  applets=$(busybox --list | wc -l)
  echo "busybox has $applets applets"
  usage "$layer"
  check_gt "$inodes" "$applets" "the image layer's inodes (a link per applet)"
  # Its size is not asserted: blocks still shared with a child whose deletion the kernel
  # deferred (finished at containerd's Cleanup) count for neither.
  check_gt "$size" 0 "the image layer's size"
fi

step "ctr image rm --sync: containerd's GC removes every snapshot"
run cctr image rm --sync "$IMG"
left=$(cctr snapshots --snapshotter "$SN" ls | awk 'NR > 1' | wc -l)
check_eq "$left" 0 "snapshots containerd still lists"
if [ "$SN" = thinsnap ]; then
  ts ls
  check_eq "$(ts_names)" "$names_before" "thinsnap ls after the GC"
  check_eq "$(thin_devices)" "$devs_before" "active thin devices after the GC"
  run ts pool check
fi
ctd_log_errors

step "stop containerd and thinsnap serve (SIGTERM)"
ctd_stop
if [ "$SN" = thinsnap ]; then
  ts_serve_stop
  run ts pool check
  run ts pool deactivate
  thin_check_pool_meta "$R/metadata"
fi
echo "containerd_ctr ($SN): all checks passed"
