#!/bin/sh
# Description: loopback pool lifecycle: status, snapshot of an active origin under writes, delete and id reuse, busy removal, growth while mounted, thin_check
# VM-Args: --mem 3072
set -u
. /vm/lib/common.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }

step "create a loopback pool"
run ts pool create --loopback --data-size 1G --metadata-size 16M --base-size 64M
ts pool status
ts --json pool status > status.json
grep -q '"Mode": "loopback"' status.json || fail "status --json lacks the mode"
grep -q '"State": "rw"' status.json || fail "pool not rw"

step "volume with a known pattern"
run ts volume create v1 --size 256M --fs none
DEV=$(ts activate v1) || fail "activate v1"
dd if=/dev/urandom of=pat1 bs=1M count=32 2>/dev/null
dd if=/dev/urandom of=pat2 bs=1M count=32 2>/dev/null
run dd if=pat1 of="$DEV" bs=1M oflag=direct conv=fsync
check_eq "$(sha_of "$DEV" 33554432)" "$(sha_of pat1)" "origin readback"

step "snapshot while the origin is active and being written"
dd if=pat1 of="$DEV" bs=1M oflag=direct count=32 2>/dev/null &
WRITER=$!
run ts volume clone v1 snap1
wait $WRITER
run dd if=pat2 of="$DEV" bs=1M oflag=direct conv=fsync
SNAP=$(ts activate snap1) || fail "activate snap1"
check_eq "$(sha_of "$SNAP" 33554432)" "$(sha_of pat1)" "snapshot keeps the old pattern"
check_eq "$(sha_of "$DEV" 33554432)" "$(sha_of pat2)" "origin has the new pattern"
ts inspect snap1
ts --json inspect snap1 | grep -q '"DeviceName": "thinsnap-' || fail "inspect --json lacks DeviceName"

step "delete and id reuse"
ID=$(ts --json inspect snap1 | awk -F': ' '/"DeviceId"/ { gsub(/,/, "", $2); print $2 }')
run ts deactivate snap1
run ts rm snap1
run ts volume create v2 --size 64M --fs none
ID2=$(ts --json inspect v2 | awk -F': ' '/"DeviceId"/ { gsub(/,/, "", $2); print $2 }')
check_eq "$ID2" "$ID" "freed id reused"
expect_fail ts rm nosuch
expect_fail ts volume create v2 --size 64M
expect_fail ts volume create 'bad/name' --size 64M
expect_fail ts volume create big --size 12Q

step "busy removal is deferred, then finished"
B=$(ts activate v2) || fail "activate v2"
( exec 3<"$B"; sleep 30 ) &
HOLDER=$!
sleep 0.3
ts rm v2 > rm.out 2>&1 || fail "rm of a busy device failed: $(cat rm.out)"
cat rm.out
grep -q deferred rm.out || fail "rm did not say deferred"
kill $HOLDER; wait $HOLDER 2>/dev/null
sleep 0.3
[ -e "$B" ] && fail "$B still exists after its holder closed it"
run ts pool gc
ts ls | grep -q '^v2 ' && fail "v2 still listed after gc"

step "grow data and metadata while a filesystem is mounted"
run ts volume create fsv --size 128M --fs ext4
MNT=$(ts mount fsv) || fail "mount fsv"
dd if=pat1 of="$MNT/file" bs=1M 2>/dev/null; sync
run ts pool set --data-size 2G --metadata-size 32M
ts --json pool status | grep -q '"DataSpaceTotal": 2147483648' || fail "data not grown"
check_eq "$(sha_of "$MNT/file")" "$(sha_of pat1)" "file after growth"
expect_fail ts pool set --data-size 1G
run ts unmount fsv

step "check, deactivate, thin_check, reactivate"
run ts pool check
run ts deactivate v1
run ts pool deactivate
run ts pool check
thin_check_pool_meta "$R/metadata"
run ts pool activate
check_eq "$(sha_of "$(ts activate v1)" 33554432)" "$(sha_of pat2)" "v1 after reactivation"
run ts pool check
run ts pool destroy --force
dmsetup ls | grep -q thinsnap && fail "dm devices left after destroy"
echo "pool_loopback: ok"
