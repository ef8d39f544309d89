#!/bin/sh
# Description: two boots on persistent NVMe: boot 1 builds a loopback pool (files on an ext4 NVMe filesystem) and a direct xfs pool (two namespaces) with devices active, mounted and not; boot 2 `pool activate --remount` (run twice: idempotent) restores exactly those, contents by checksum; pool check and thin_check clean
# VM-Args: --nvme 2G --nvme 2G --nvme 64M --mem 3072
# VM-Boots: 2
set -u
. /vm/lib/common.sh
BOOT=${1:?boot number (1 or 2)}
P=/persist
LR=$P/loop-root
DR=$P/direct-root
lts() { thinsnap --root "$LR" "$@"; }
dts() { thinsnap --root "$DR" "$@"; }
# dev_of ROOT NAME: the device path inspect shows, or "(inactive)".
dev_of() { thinsnap --root "$1" inspect "$2" | awk '$1 == "Device:" { print $2 }'; }
mounted_at() { awk -v d="$1" '$2 == d' /proc/mounts | wc -l; }
# tree_sums DIR: sha256 of every regular file under DIR, by relative path.
tree_sums() { (cd "$1" && find . -type f ! -path './lost+found/*' | LC_ALL=C sort | xargs sha256sum); }

mkdir -p $P
if [ "$BOOT" = 1 ]; then
  step "boot 1: an ext4 filesystem on nvme0n1 holds the loopback pool's files and the roots"
  run mkfs.ext4 -q /dev/nvme0n1
  run mount /dev/nvme0n1 $P
  mkdir -p src/etc src/bin && echo base > src/etc/os-release && cp /bin/busybox src/bin/
  (cd src && tar -cf ../base.tar .) || fail "tar"

  step "loopback pool (ext4): mounted layer, containers, volumes"
  run lts pool create --loopback --data-size 1G --metadata-size 32M --base-size 128M
  run lts layer import os base.tar
  run lts container create c1 --from os
  run lts container create c2 --from os
  run lts container create idle --from os
  run lts volume create vol --size 64M
  run lts volume create raw --size 32M --fs none
  run lts volume create parked --size 32M --fs none
  M1=$(lts mount c1) || fail "mount c1"
  run lts mount c2 $P/c2-here
  MV=$(lts mount vol) || fail "mount vol"
  MB=$(lts mount os) || fail "mount base"
  dd if=/dev/urandom of="$M1/data" bs=1M count=8 2>/dev/null
  echo "c2 only" > $P/c2-here/note
  dd if=/dev/urandom of="$MV/blob" bs=1M count=4 2>/dev/null
  RAW=$(lts activate raw) || fail "activate raw"
  dd if=/dev/urandom of="$RAW" bs=1M count=16 oflag=direct conv=fsync 2>/dev/null || fail "dd raw"
  PK=$(lts activate parked) || fail "activate parked"
  run lts deactivate parked
  { tree_sums "$M1"; tree_sums $P/c2-here; tree_sums "$MV"; tree_sums "$MB"; } > $P/loop.sums
  sha_of "$RAW" 16777216 > $P/raw.sum
  lts ls

  step "direct pool (xfs) on nvme1n1 (data) and nvme2n1 (metadata)"
  run dts pool create --data /dev/nvme1n1 --metadata /dev/nvme2n1 --fs xfs --base-size 320M
  run dts layer import dbase base.tar
  run dts container create dc --from dbase
  run dts volume create draw --size 32M --fs none
  MD=$(dts mount dc) || fail "mount dc"
  dd if=/dev/urandom of="$MD/data" bs=1M count=8 2>/dev/null
  DRAW=$(dts activate draw) || fail "activate draw"
  dd if=/dev/urandom of="$DRAW" bs=1M count=16 oflag=direct conv=fsync 2>/dev/null || fail "dd draw"
  tree_sums "$MD" > $P/direct.sums
  sha_of "$DRAW" 16777216 > $P/draw.sum
  dts ls
  # A reboot: nothing is unmounted or deactivated; what reached the disks is what survives.
  sync
  echo "boot 1: ok (rebooting with everything mounted)"
  exit 0
fi

step "boot 2: nothing of boot 1 is in the kernel"
run mount /dev/nvme0n1 $P
check_eq "$(dmsetup ls | grep -c thinsnap)" 0 "dm devices after the reboot"
expect_fail lts mount c1

step "loopback pool: activate --remount"
lts pool activate --remount > act1.out 2>&1 || { cat act1.out; fail "pool activate"; }
cat act1.out
grep -q "^attached $LR/data" act1.out || fail "data file not re-attached"
for name in c1 c2 vol os raw; do
  [ "$(dev_of "$LR" $name)" != "(inactive)" ] || fail "$name not active after activate"
done
for name in idle parked; do
  check_eq "$(dev_of "$LR" $name)" "(inactive)" "$name (inactive before the reboot)"
done
check_eq "$(mounted_at $LR/mnt/c1)" 1 "c1 mounted"
check_eq "$(mounted_at $P/c2-here)" 1 "c2 mounted at its own dir"
check_eq "$(mounted_at $LR/mnt/vol)" 1 "vol mounted"
awk -v d="$LR/mnt/os" '$2 == d { print $4 }' /proc/mounts | grep -q '^ro' || fail "layer os not mounted ro"
{ tree_sums $LR/mnt/c1; tree_sums $P/c2-here; tree_sums $LR/mnt/vol; tree_sums $LR/mnt/os; } > loop.sums
cmp loop.sums $P/loop.sums || fail "file checksums differ after the reboot"
check_eq "$(sha_of "$(dev_of "$LR" raw)" 16777216)" "$(cat $P/raw.sum)" "raw volume after the reboot"
echo "loopback pool: $(wc -l < loop.sums) files and the raw volume match"

step "activate again: idempotent"
lts pool activate --remount > act2.out 2>&1 || { cat act2.out; fail "second pool activate"; }
cat act2.out
grep -Eq '^(attached|activated|mounted|pool .* loaded)' act2.out && fail "second activate redid work"
check_eq "$(mounted_at $LR/mnt/c1)" 1 "c1 mounted once"
check_eq "$(mounted_at $P/c2-here)" 1 "c2 mounted once"

step "direct pool: activate --remount"
dts pool activate --remount > act3.out 2>&1 || { cat act3.out; fail "direct pool activate"; }
cat act3.out
MD=$(awk -v d="$DR/mnt/dc" '$2 == d { print $2 }' /proc/mounts)
check_eq "$MD" "$DR/mnt/dc" "dc remounted"
tree_sums "$MD" > direct.sums
cmp direct.sums $P/direct.sums || fail "direct pool file checksums differ"
check_eq "$(sha_of "$(dev_of "$DR" draw)" 16777216)" "$(cat $P/draw.sum)" "draw after the reboot"
run dts pool activate --remount
check_eq "$(mounted_at "$DR/mnt/dc")" 1 "dc mounted once"

step "both pools keep working"
run lts container create after --from os
MA=$(lts mount after) || fail "mount after"
check_eq "$(cat "$MA/etc/os-release")" base "new container after the reboot"
echo more >> $LR/mnt/c1/data || fail "write to c1 after the reboot"
run dts container create dafter --from dbase
run lts pool check
run dts pool check
run lts pool deactivate --force
run dts pool deactivate --force
thin_check_pool_meta "$LR/metadata"
thin_check_pool_meta /dev/nvme2n1
echo "reboot_restore: ok"
