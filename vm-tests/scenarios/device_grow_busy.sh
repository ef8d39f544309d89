#!/bin/sh
# Description: grow thin devices (raw volume while open, ext4 mounted online, xfs unmounted via a temporary mount and mounted online): old bytes intact, new size seen; refusals; deactivate of a device held open fails clearly and changes nothing
# VM-Args: --mem 2048
set -u
. /vm/lib/common.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }
MiB=1048576

run ts pool create --loopback --data-size 2G --metadata-size 16M --base-size 64M
dd if=/dev/urandom of=pat bs=1M count=16 2>/dev/null

step "raw volume grown while active and written"
run ts volume create raw --size 64M --fs none
RAW=$(ts activate raw) || fail "activate raw"
run dd if=pat of="$RAW" bs=1M seek=48 oflag=direct conv=fsync
run ts grow raw --size 256M
check_eq "$(blockdev --getsize64 "$RAW")" $((256 * MiB)) "raw size after grow"
check_eq "$(dd if="$RAW" bs=1M skip=48 count=16 2>/dev/null | sha256sum | cut -d' ' -f1)" \
  "$(sha_of pat)" "bytes before the old end"
run dd if=pat of="$RAW" bs=1M seek=200 oflag=direct conv=fsync
check_eq "$(dd if="$RAW" bs=1M skip=200 count=16 2>/dev/null | sha256sum | cut -d' ' -f1)" \
  "$(sha_of pat)" "bytes beyond the old end"
run ts volume grow raw --size 256M # same size through the alias: nothing to do, no error
ts --json inspect raw | grep -q "\"DeviceSize\": $((256 * MiB))" || fail "inspect lacks the new size"

step "ext4, mounted: grown online"
run ts volume create e4 --size 64M --fs ext4
M4=$(ts mount e4) || fail "mount e4"
run cp pat "$M4/before"
sync
run ts grow e4 --size 512M
check_eq "$(blockdev --getsize64 "$(ts --json inspect e4 | sed -n 's/.*"DevicePath": "\(.*\)".*/\1/p')")" \
  $((512 * MiB)) "e4 device size"
KB=$(df -kP "$M4" | awk 'NR == 2 { print $2 }')
check_gt "$KB" 450000 "df size of e4 (KiB)"
check_eq "$(sha_of "$M4/before")" "$(sha_of pat)" "e4 file written before the grow"
run dd if=/dev/zero of="$M4/big" bs=1M count=100 conv=fsync # needs the new space
run ts unmount e4
E4=$(ts activate e4) || fail "activate e4"
run e2fsck -fn "$E4"
run ts deactivate e4

step "xfs, not mounted: grown through a temporary mount"
run ts volume create x --size 320M --fs xfs
MX=$(ts mount x) || fail "mount x"
run cp pat "$MX/before"
run ts unmount x
run ts grow x --size 1G
MX=$(ts mount x) || fail "mount x again"
KB=$(df -kP "$MX" | awk 'NR == 2 { print $2 }')
check_gt "$KB" 900000 "df size of x (KiB)"
check_eq "$(sha_of "$MX/before")" "$(sha_of pat)" "xfs file written before the grow"
run ts grow x --size 1536M # mounted: xfs_growfs online
KB=$(df -kP "$MX" | awk 'NR == 2 { print $2 }')
check_gt "$KB" 1400000 "df size of x after the online grow (KiB)"
run ts unmount x
XD=$(ts activate x) || fail "activate x"
run xfs_repair -n "$XD"
run ts deactivate x

step "refusals change nothing"
run ts layer create l1
run ts layer seal l1
ts grow l1 --size 1G > out 2>&1 && fail "grew a layer"
cat out
grep -q "read-only" out || fail "layer refusal does not say read-only"
ts grow e4 --size 64M > out 2>&1 && fail "shrank e4"
cat out
grep -q "cannot shrink 'e4' from 512 MiB" out || fail "shrink refusal unclear"
ts grow e4 --size 12Q > out 2>&1
check_eq $? 2 "exit status of a bad size"
expect_fail ts grow nosuch --size 1G
ts --json inspect e4 | grep -q "\"DeviceSize\": $((512 * MiB))" || fail "e4 size changed by a refusal"

step "deactivate of a device held open: EBUSY said clearly, nothing changed"
( exec 3<"$RAW"; sleep 60 ) &
HOLDER=$!
sleep 0.5
ts deactivate raw > out 2>&1 && fail "deactivated a device held open"
cat out
grep -q "cannot deactivate 'raw' ($RAW)" out || fail "the message does not name the device"
grep -q "busy, still open (open count 1)" out || fail "the message does not say busy/open"
[ -b "$RAW" ] || fail "$RAW is gone after the failed deactivate"
ts --json inspect raw | grep -q '"Active": true' || fail "raw no longer active"
check_eq "$(dd if="$RAW" bs=1M skip=200 count=16 2>/dev/null | sha256sum | cut -d' ' -f1)" \
  "$(sha_of pat)" "raw data after the failed deactivate"
kill $HOLDER
wait $HOLDER 2>/dev/null
run ts deactivate raw
[ -e "$RAW" ] && fail "$RAW still exists after deactivate"

step "check, thin_check"
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "device_grow_busy: ok"
