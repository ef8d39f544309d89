#!/bin/sh
# Description: every layer/container/volume command on ext4 and on xfs (one pool each): import with whiteouts, ro layer mounts (ro,noload / ro,nouuid,norecovery), create/seal, container --size growth, commit while running, volumes and clones mounted side by side, raw volumes, activate/deactivate, ls/inspect/diff/df, rm rules, export->import round trip of every kind of entry and metadata, pool set --base-size growth; pool check and thin_check clean
# VM-Args: --mem 3072 --timeout 840 --include @BUILD@/tests/vm_tar_tool
set -u
. /vm/lib/common.sh
TOOL=$(find / -path /proc -prune -o -name vm_tar_tool -type f -print 2>/dev/null | head -n1)
[ -x "$TOOL" ] || fail "vm_tar_tool not included"
ts() { thinsnap --root "$R" "$@"; }
opts_of() { awk -v d="$1" '$2 == d { print $4 }' /proc/mounts; }
fs_kib() { df -Pk "$1" | awk 'NR == 2 { print $2 }'; }
json_num() { ts --json inspect "$1" | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"; }

mkdir -p /tmp/w && cd /tmp/w || fail "cd"
mkdir -p rootfs/bin rootfs/etc && cp /bin/busybox rootfs/bin/ && ln -s busybox rootfs/bin/sh
echo demo > rootfs/etc/hostname
echo motd > rootfs/etc/motd
(cd rootfs && tar -cf ../base.tar .) || fail "tar base"
mkdir -p l2/etc l2/opt/app && echo "layer 2" > l2/opt/app/README && : > l2/etc/.wh.motd
(cd l2 && tar -cf ../l2.tar .) || fail "tar l2"
"$TOOL" rich-lower rich-lower.tar && "$TOOL" rich rich.tar || fail "vm_tar_tool"

for FS in ${1:-ext4 xfs}; do
  R=/tmp/ts-$FS
  step "$FS: pool, layers with whiteouts, read-only layer mounts"
  run ts pool create --loopback --data-size 3G --metadata-size 64M --fs "$FS" --base-size 320M
  run ts layer import os base.tar
  run ts layer import l2 --parent os l2.tar
  M=$(ts mount l2) || fail "mount l2"
  case $FS in
    ext4) opts_of "$M" | grep -Eq '^ro,.*(norecovery|noload)' || fail "l2 mount options: $(opts_of "$M")" ;;
    xfs) opts_of "$M" | grep -Eq '^ro,.*nouuid.*norecovery' || fail "l2 mount options: $(opts_of "$M")" ;;
  esac
  [ -e "$M/etc/motd" ] && fail "whiteout did not remove /etc/motd"
  check_eq "$(cat "$M/opt/app/README")" "layer 2" "l2 content"
  { echo x > "$M/new"; } 2>/dev/null && fail "wrote into a read-only layer"
  run ts unmount l2

  step "$FS: layer create, write, seal"
  run ts layer create w --parent l2
  expect_fail ts container create early --from w
  M=$(ts mount w) || fail "mount w"
  echo "written in w" > "$M/w.txt"
  expect_fail ts layer seal w
  run ts unmount w
  run ts layer seal w
  M=$(ts mount w) || fail "mount sealed w"
  opts_of "$M" | grep -q '^ro' || fail "sealed layer mounted rw"
  check_eq "$(cat "$M/w.txt")" "written in w" "sealed layer content"
  run ts unmount w

  step "$FS: container with a larger --size, smaller refused"
  expect_fail ts container create small --from w --size 100M
  run ts container create c --from w --size 512M
  check_eq "$(json_num c DeviceSize)" 536870912 "container size"
  M=$(ts mount c) || fail "mount c"
  check_gt "$(fs_kib "$M")" 450000 "container filesystem grown (KiB)"
  opts_of "$M" | grep -q '^rw' || fail "container not mounted rw"
  [ "$FS" = xfs ] && { opts_of "$M" | grep -q nouuid || fail "xfs container without nouuid"; }
  echo "Hello World" > "$M/TEST"
  rm "$M/etc/hostname"
  echo changed > "$M/opt/app/README"
  ts diff c > diff.out || fail "diff c"
  cat diff.out
  for line in "A /TEST" "D /etc/hostname" "C /opt/app/README"; do
    grep -qx "$line" diff.out || fail "diff lacks '$line'"
  done

  step "$FS: commit while the container runs"
  run ts commit c cl
  echo "after commit" > "$M/later"
  run ts container create c2 --from cl
  M2=$(ts mount c2) || fail "mount c2"
  check_eq "$(cat "$M2/TEST")" "Hello World" "/TEST in a container of the commit"
  [ -e "$M2/later" ] && fail "a write after the commit leaked into it"
  [ -e "$M2/etc/hostname" ] && fail "deleted file back in the commit"
  check_eq "$(cat "$M/later")" "after commit" "container keeps running after commit"

  step "$FS: volumes, clones mounted side by side, raw volumes"
  run ts volume create v --size 320M --fs "$FS"
  MV=$(ts mount v) || fail "mount v"
  dd if=/dev/urandom of="$MV/blob" bs=1M count=4 2>/dev/null
  SUM=$(sha_of "$MV/blob")
  run ts unmount v
  run ts volume clone v v2
  MV=$(ts mount v) || fail "mount v"
  MV2=$(ts mount v2) || fail "mount v2 beside v"
  check_eq "$(sha_of "$MV2/blob")" "$SUM" "clone content"
  echo diverge > "$MV2/blob"
  check_eq "$(sha_of "$MV/blob")" "$SUM" "origin unchanged by a write to the clone"
  run ts volume create raw --size 16M --fs none
  D=$(ts activate raw) || fail "activate raw"
  [ -b "$D" ] || fail "activate printed $D, not a block device"
  check_eq "$(sectors_of "$D")" 32768 "raw volume sectors"
  printf 'raw bytes' | dd of="$D" conv=fsync 2>/dev/null
  check_eq "$(head -c 9 "$D")" "raw bytes" "raw volume readback"
  expect_fail ts mount raw
  run ts deactivate raw
  [ -e "$D" ] && fail "$D still there after deactivate"
  D=$(ts activate l2) || fail "activate layer"
  check_eq "$(blockdev --getro "$D")" 1 "activated layer is read-only"
  run ts deactivate l2

  step "$FS: ls, inspect, df"
  ts ls
  ts inspect c
  ts --json inspect c > inspect.json
  for key in DeviceId DeviceName DeviceSize; do grep -q "\"$key\"" inspect.json || fail "inspect --json lacks $key"; done
  ts df
  ts --json df | grep -q '"Shared"' || fail "df --json lacks Shared"

  step "$FS: rm rules"
  expect_fail ts rm l2
  expect_fail ts rm c2
  run ts rm --force c2
  run ts unmount v2
  run ts rm v2
  ts ls | grep -Eq '^(c2|v2) ' && fail "removed devices still listed"

  step "$FS: export -> import reproduces the layer (content and metadata)"
  run ts layer import rtl rich-lower.tar
  run ts layer import rtx --parent rtl rich.tar
  ts export rtx > x.tar || fail "export rtx"
  run ts layer import rty --parent rtl x.tar
  ts export rty > y.tar || fail "export rty"
  cmp x.tar y.tar || fail "export(import(export(x))) differs from export(x)"
  MX=$(ts mount rtx) && MY=$(ts mount rty) || fail "mount rtx/rty"
  "$TOOL" manifest "$MX" > x.manifest && "$TOOL" manifest "$MY" > y.manifest || fail "manifest"
  diff x.manifest y.manifest || fail "import(export(x)) differs from x"
  for want in '^/bin/b 100644 7:7 t1650000000.000000006 s11 n3 =/bin/a' ' security.capability=' \
    '^/etc/conf 100640 1000:1001 t1650000000.123456789 .* trusted.tag=74 user.note=7631' \
    '^/bin/su 104755' '^/bin/sgid 102711 0:50' '^/dev/null 020666 .* dev1,3' '^/dev/loop9 060660 0:6 .* dev7,9' \
    '^/run/fifo 010600' '^/tmp 041777' '^/bin/sh 120777 .* ->busybox' '^/lib64 .* ->/usr/lib' \
    '^/var/sparse .* s67108864' '^/opq/new ' '^/keep ' '^/edit '; do
    grep -Eq -- "$want" x.manifest || fail "the round-trip layer lacks: $want"
  done
  grep -Eq '^/(delme|gone|opq/old) ' x.manifest && fail "a whiteout was not applied"
  check_eq "$(cat "$MY/edit")" "upper version" "changed file"
  check_gt 2048 "$(du -k "$MY/var/sparse" | cut -f1)" "sparse file stays sparse (KiB)"
  echo "round trip: $(wc -l < x.manifest) entries identical:"
  cut -c1-160 x.manifest
  run ts unmount rtx
  run ts unmount rty

  step "$FS: pool set --base-size grows new devices; never shrinks"
  run ts pool set --base-size 640M
  expect_fail ts pool set --base-size 320M
  run ts layer create big
  check_eq "$(json_num big DeviceSize)" 671088640 "new layer size"
  MB=$(ts mount big) || fail "mount big"
  check_gt "$(fs_kib "$MB")" 540000 "new layer filesystem grown past what 320M can hold (KiB)"
  run ts unmount big
  run ts layer create big2 --parent w
  check_eq "$(json_num big2 DeviceSize)" 671088640 "new child layer size"

  step "$FS: consistent"
  run ts pool check
  run ts pool deactivate --force
  thin_check_pool_meta "$R/metadata"
  run ts pool activate
  run ts pool check
  run ts pool destroy --force
done
echo "layers_fs: ok"
