#!/bin/sh
# Description: the VM harness gives a working dm-thin stack: pool, thin device, snapshot, thin_check, xfs/ext4, loop
# VM-Args: --nvme 1G --nvme 64M
set -u
. /vm/lib/common.sh

DATA=/dev/nvme0n1
META=/dev/nvme1n1
BLOCK_SECTORS=128           # 64 KiB
THIN_SECTORS=524288         # 256 MiB
FS_SECTORS=1048576          # 512 MiB: mkfs.xfs wants more than 300 MB

step "environment"
check_eq "${THINSNAP_VM:-}" 1 THINSNAP_VM
check_eq "${DM_DISABLE_UDEV:-}" 1 DM_DISABLE_UDEV
[ -b "$DATA" ] || fail "$DATA missing"
[ -b "$META" ] || fail "$META missing"
[ -c /dev/mapper/control ] || fail "/dev/mapper/control missing"
check_eq "$(sectors_of "$DATA")" 2097152 "size of $DATA"
check_eq "$(sectors_of "$META")" 131072 "size of $META"
for tool in thin_check thin_dump thin_ls thin_delta thin_repair thin_restore thin_metadata_size \
  mkfs.ext4 e2fsck resize2fs tune2fs debugfs mkfs.xfs xfs_repair xfs_growfs xfs_admin xfs_io \
  blkid losetup blkdiscard wipefs dmsetup fio sha256sum md5sum; do
  command -v "$tool" >/dev/null || fail "tool $tool missing"
done
grep -q thin-pool /proc/devices /proc/misc 2>/dev/null || dmsetup targets | grep -q thin-pool ||
  fail "thin-pool target not registered"
t0=$(ms_now)

step "create a pool: data $DATA, metadata $META, 64 KiB blocks"
run dd if=/dev/zero of="$META" bs=4096 count=1 oflag=direct status=none
run dmsetup create selftest-pool --table \
  "0 $(sectors_of "$DATA") thin-pool $META $DATA $BLOCK_SECTORS 0 1 skip_block_zeroing"
run dmsetup message selftest-pool 0 "create_thin 0"
run dmsetup create selftest-thin --table "0 $THIN_SECTORS thin /dev/mapper/selftest-pool 0"
[ -b /dev/mapper/selftest-thin ] || fail "/dev/mapper/selftest-thin not created"

step "write 8 MiB of random data and read it back"
run dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 status=none
run dd if=/tmp/pattern of=/dev/mapper/selftest-thin bs=1M oflag=direct status=none
want=$(sha_of /tmp/pattern)
check_eq "$(sha_of /dev/mapper/selftest-thin 8388608)" "$want" "thin device content"
used=$(pool_status_field selftest-pool 3)
echo "pool data blocks used/total: $used"
check_gt "${used%/*}" 0 "used data blocks"
check_eq "${used%/*}" 128 "data blocks for 8 MiB"

step "snapshot the active origin, then overwrite the origin"
run dmsetup suspend selftest-thin
dmsetup message selftest-pool 0 "create_snap 1 0"
snap_status=$?
run dmsetup resume selftest-thin
check_eq "$snap_status" 0 "create_snap status"
run dmsetup create selftest-snap --table "0 $THIN_SECTORS thin /dev/mapper/selftest-pool 1"
run dd if=/dev/zero of=/dev/mapper/selftest-thin bs=1M count=8 oflag=direct status=none
check_eq "$(sha_of /dev/mapper/selftest-snap 8388608)" "$want" "snapshot keeps the old content"
zeros=$(head -c 8388608 /dev/zero | sha256sum | cut -d' ' -f1)
check_eq "$(sha_of /dev/mapper/selftest-thin 8388608)" "$zeros" "origin has the new content"
check_eq "$(pool_status_field selftest-pool 3 | cut -d/ -f1)" 256 "data blocks after copy-on-write"

step "xfs and ext4 on thin devices"
run dmsetup message selftest-pool 0 "create_thin 2"
run dmsetup message selftest-pool 0 "create_thin 3"
run dmsetup create selftest-xfs --table "0 $FS_SECTORS thin /dev/mapper/selftest-pool 2"
run dmsetup create selftest-ext4 --table "0 $FS_SECTORS thin /dev/mapper/selftest-pool 3"
run mkfs.xfs -q /dev/mapper/selftest-xfs
run mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0,nodiscard /dev/mapper/selftest-ext4
mkdir -p /mnt/xfs /mnt/ext4
run mount -t xfs /dev/mapper/selftest-xfs /mnt/xfs
run mount -t ext4 /dev/mapper/selftest-ext4 /mnt/ext4
for fs in xfs ext4; do
  run cp /tmp/pattern /mnt/$fs/pattern
  run sync
  check_eq "$(sha_of /mnt/$fs/pattern)" "$want" "file on $fs"
  run umount /mnt/$fs
done
check_eq "$(blkid -o value -s TYPE /dev/mapper/selftest-xfs)" xfs "blkid type"
run xfs_repair -n /dev/mapper/selftest-xfs
run e2fsck -fn /dev/mapper/selftest-ext4

step "loop device on a sparse file in /tmp"
run truncate -s 512M /tmp/loop.img
loopdev=$(losetup -f --show /tmp/loop.img) || fail "losetup failed"
echo "loop device: $loopdev"
run dd if=/tmp/pattern of="$loopdev" bs=1M status=none conv=fsync
check_eq "$(sha_of "$loopdev" 8388608)" "$want" "loop device content"
run losetup -d "$loopdev"

step "tear down and check the pool metadata"
for dev in selftest-ext4 selftest-xfs selftest-snap selftest-thin selftest-pool; do
  run dmsetup remove "$dev"
done
thin_check_pool_meta "$META"
run thin_ls --format "DEV,MAPPED_BLOCKS" "$META"
devs=$(thin_dump "$META" | grep -c '<device ')
check_eq "$devs" 4 "thin devices in the metadata"

echo "self-test took $(($(ms_now) - t0)) ms in the guest"
echo "PASS"
