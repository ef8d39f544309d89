#!/bin/sh
# Description: pool create is all or nothing on dm-thin: without the thin-pool target and on a full root filesystem it leaves no pool, files, dm or loop devices, and the retry succeeds
# VM-Args: --include /usr/bin/script
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

# A long step draws a live line on a terminal (script(1) gives the command a pty), and only there.
# mkfs.ext4 is made to take 2 s by a wrapper first on PATH, so the step is long on any machine.
step "progress: a live line for the base's mkfs on a terminal, none in a pipe or with --json"
mkdir -p /tmp/slow
printf '#!/bin/sh\nsleep 2\nexec %s "$@"\n' "$(command -v mkfs.ext4)" >/tmp/slow/mkfs.ext4
chmod +x /tmp/slow/mkfs.ext4
R=/tmp/progress
create="thinsnap --root $R pool create --loopback --data-size 256M --metadata-size 4M --base-size 64M"
PATH=/tmp/slow:$PATH script -qec "$create" /dev/null >tty.out 2>&1 || fail "create on a pty: $(cat tty.out)"
grep -q "$(printf '\r')formatting the base (mkfs.ext4, 64 MiB), [0-9.]* s" tty.out ||
  fail "no live line on the terminal: $(od -c tty.out | head -20)"
# It was redrawn while mkfs ran (several states), and the last state ends its line.
check_gt "$(tr '\r' '\n' <tty.out | grep -c '^formatting the base')" 1 "states of the live line"
echo "last state of the live line: $(tr '\r' '\n' <tty.out | grep '^formatting the base' | tail -1 | tr -d '\033')"
run thinsnap --root "$R" pool destroy --force
PATH=/tmp/slow:$PATH $create >pipe.out 2>&1 || fail "create in a pipe: $(cat pipe.out)"
check_eq "$(tr -cd '\r' <pipe.out | wc -c)" 0 "carriage returns in a pipe"
run thinsnap --root "$R" pool destroy --force
PATH=/tmp/slow:$PATH script -qec "thinsnap --json ${create#thinsnap }" /dev/null >json.out 2>&1 ||
  fail "create --json on a pty: $(cat json.out)"
grep -q "formatting the base" json.out && fail "a live line under --json: $(cat json.out)"
run thinsnap --root "$R" pool destroy --force
echo "pool_create_undo: ok"
