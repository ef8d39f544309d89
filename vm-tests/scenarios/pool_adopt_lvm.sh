#!/bin/sh
# Description: adopt mode on LVM thin pools: a pool in use (thin LV, known transaction id) is refused unless --force and its LV survives; an empty pool is adopted, volumes and snapshots verified, deactivated without harming LVM's pool, thin_check on its metadata LV, reactivated, pool check clean
# VM-Args: --nvme 2G --mem 2048
set -u
. /vm/lib/common.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }
ts2() { thinsnap --root /tmp/ts2 "$@"; }
# LVM without udev or lvmetad, locking on the guest's tmpfs /run: its own config file.
mkdir -p /etc/lvm /run/lvm /run/lock/lvm
cat > /etc/lvm/lvm.conf <<'EOF'
devices { obtain_device_list_from_udev = 0 external_device_info_source = "none" }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
global { locking_dir = "/run/lock/lvm" event_activation = 0 }
EOF
export LVM_SUPPRESS_FD_WARNINGS=1
lvm() { echo "+ lvm $*"; command lvm "$@" || fail "lvm $* failed with status $?"; }

lvm pvcreate -q -y /dev/nvme0n1
lvm vgcreate -q vg /dev/nvme0n1
lvm lvcreate -q --type thin-pool -L 1G --poolmetadatasize 16M -n pool vg -y
lvm lvcreate -q --type thin-pool -L 256M --poolmetadatasize 4M -n used vg -y
lvm lvcreate -q -V 64M -T vg/used -n lv1
dd if=/dev/urandom of=pat1 bs=1M count=16 2>/dev/null
dd if=/dev/urandom of=pat2 bs=1M count=16 2>/dev/null
run dd if=pat1 of=/dev/mapper/vg-lv1 bs=1M oflag=direct conv=fsync
dmsetup table

step "a pool LVM is using is refused, nothing recorded; --force adopts it and leaves LVM's LV alone"
ts2 pool create --thinpool /dev/mapper/vg-used --base-size 16M > out 2>&1 && fail "adopted a pool in use"
cat out
grep -q "refusing to adopt pool vg-used-tpool: it is in use (transaction id 1, 1 thin devices (ids 1)" out ||
  fail "the refusal does not name the transaction id and the device"
grep -q -- "--force" out || fail "the refusal does not name --force"
ts2 pool status > out 2>&1 && fail "a refused adoption left a pool behind"
grep -q "no pool in /tmp/ts2" out || fail "unexpected: $(cat out)"
run ts2 pool create --thinpool /dev/mapper/vg-used --base-size 16M --force
run ts2 volume create w --size 32M --fs none
ts2 pool check > out 2>&1 || fail "pool check of the forced adoption: $(cat out)"
cat out
grep -q "thin device id 1 belongs to the pool's previous owner" out || fail "lv1 not reported as foreign"
run ts2 pool destroy --force
check_eq "$(sha_of /dev/mapper/vg-lv1 16777216)" "$(sha_of pat1)" "LVM's lv1 after thinsnap left"

step "adopt an empty LVM thin pool"
run ts pool create --thinpool /dev/mapper/vg-pool --base-size 64M
ts pool status
ts --json pool status | grep -q '"Mode": "adopted"' || fail "not adopted mode"

step "volumes and snapshots on LVM's pool"
run ts volume create v --size 128M --fs none
V=$(ts activate v) || fail "activate v"
run dd if=pat1 of="$V" bs=1M oflag=direct conv=fsync
run ts volume clone v s1
run dd if=pat2 of="$V" bs=1M oflag=direct conv=fsync
S1=$(ts activate s1) || fail "activate s1"
check_eq "$(sha_of "$S1" 16777216)" "$(sha_of pat1)" "snapshot keeps the old pattern"
check_eq "$(sha_of "$V" 16777216)" "$(sha_of pat2)" "origin has the new pattern"
run ts volume create fs --size 128M --fs ext4
M=$(ts mount fs) || fail "mount fs"
run cp pat1 "$M/file"
run ts grow fs --size 256M
KB=$(df -kP "$M" | awk 'NR == 2 { print $2 }')
check_gt "$KB" 200000 "df size of fs after grow (KiB)"
run ts pool check
ts df

step "deactivate: LVM's pool stays; LVM deactivates it; thin_check on its metadata LV"
run ts pool deactivate --force
dmsetup info vg-pool > /dev/null || fail "thinsnap removed LVM's pool device"
dmsetup ls | grep -q thinsnap && fail "thin devices left after pool deactivate"
lvm lvchange -an vg/pool
dmsetup info vg-pool > /dev/null 2>&1 && fail "vg-pool still active after lvchange -an"
lvm lvchange -ay -y vg/pool_tmeta
run thin_check /dev/mapper/vg-pool_tmeta
lvm lvchange -an vg/pool_tmeta
run ts pool check

step "LVM reactivates the pool; thinsnap picks it up, data intact"
lvm lvchange -ay vg/pool
run ts pool activate
check_eq "$(sha_of "$(ts activate s1)" 16777216)" "$(sha_of pat1)" "snapshot after reactivation"
M=$(ts mount fs) || fail "mount fs after reactivation"
check_eq "$(sha_of "$M/file")" "$(sha_of pat1)" "file after reactivation"
run ts pool check
run ts pool destroy --force
dmsetup status vg-pool
check_eq "$(pool_status_field vg-pool 3 | cut -d/ -f1)" 0 "data blocks used after destroy"
lvm lvchange -an vg/pool
lvm lvchange -ay -y vg/pool_tmeta
run thin_check /dev/mapper/vg-pool_tmeta
lvm lvchange -an vg/pool_tmeta
echo "pool_adopt_lvm: ok"
