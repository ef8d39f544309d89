#!/bin/sh
# Description: pool create is all or nothing on dm-thin: without the thin-pool target and on a full root filesystem it leaves no pool, files, dm or loop devices, and the retry succeeds
# Expect-kernel: device-mapper: table: .*: thin-pool: unknown target type
# Expect-kernel: device-mapper: ioctl: error adding target to table
# Expect-kernel: device-mapper: thin: .*
# Expect-kernel: device-mapper: .*(error|failed|Error|Failed).*
# Expect-kernel: (Buffer I/O error|I/O error|blk_update_request|loop[0-9]+).*
set -u
. /vm/lib/common.sh

# What a failed create may leave in ROOT: the lock and an empty store, nothing else; no dm device
# and no loop device over a file in ROOT.
expect_nothing_left() {
  left=""
  for f in "$1"/* "$1"/.[!.]*; do
    [ -e "$f" ] || continue
    case ${f##*/} in lock | meta) ;; *) left="$left ${f##*/}" ;; esac
  done
  check_eq "$left" "" "files left in $1"
  check_eq "$(dmsetup ls | grep thinsnap)" "" "dm devices left"
  check_eq "$(losetup -a | grep -F "$1/")" "" "loop devices left"
  thinsnap --root "$1" pool status >out 2>&1 && fail "pool status found a pool: $(cat out)"
  grep -q "no pool in $1" out || fail "pool status after the failed create: $(cat out)"
}

step "no thin-pool target (dm_thin_pool removed; the guest cannot load it back by itself)"
run rmmod dm_thin_pool
R=/tmp/nothin
thinsnap --root "$R" pool create --loopback --data-size 256M --metadata-size 4M --base-size 32M >out 2>&1 &&
  fail "created a pool without the thin-pool target"
cat out
check_eq "$(wc -l <out)" 1 "one line of error"
grep -q "this kernel has no thin-pool target .*modprobe dm_thin_pool" out || fail "no diagnosis"
grep -q "pool create undone, nothing kept in $R" out || fail "not said to be undone"
grep -q "libdevmapper\|dm_task" out && fail "libdevmapper's raw log in the message"
expect_nothing_left "$R"
step "with -v, libdevmapper's own words follow"
thinsnap -v --root "$R" pool create --loopback --data-size 256M --metadata-size 4M --base-size 32M >out 2>&1 &&
  fail "created a pool without the thin-pool target"
grep -q "device-mapper: " out || fail "-v shows no raw detail: $(cat out)"
run insmod /vm/modules/dm_thin_pool.ko
run thinsnap --root "$R" pool create --loopback --data-size 256M --metadata-size 4M --base-size 32M
run thinsnap --root "$R" pool check
run thinsnap --root "$R" pool destroy --force

step "full root filesystem during pool create (mkfs of the base runs out of room)"
mkdir -p /tmp/small
run mount -t tmpfs -o size=3M tmpfs /tmp/small
R=/tmp/small/root
thinsnap --root "$R" pool create --loopback --data-size 256M --metadata-size 4M --base-size 64M >out 2>&1 &&
  fail "created a pool on a full filesystem"
cat out
grep -q "pool create undone, nothing kept in $R" out || fail "not said to be undone: $(cat out)"
expect_nothing_left "$R"
step "room made: the same command succeeds"
run mount -o remount,size=256M /tmp/small
run thinsnap --root "$R" pool create --loopback --data-size 256M --metadata-size 4M --base-size 64M
run thinsnap --root "$R" volume create v --size 32M
run thinsnap --root "$R" pool check
run thinsnap --root "$R" pool destroy --force
check_eq "$(dmsetup ls | grep thinsnap)" "" "dm devices after destroy"
echo "pool_create_undo: ok"
