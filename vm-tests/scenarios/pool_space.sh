#!/bin/sh
# Description: pool space: a container filled to ENOSPC fails fast (--no-space error), new devices are refused, growth (pool set --data-size) and rm each bring the pool back to rw, xfs ENOSPC retries are bounded; a tiny metadata device is guarded before the kernel fails; loopback autoextend under a writer with pool monitor; --no-space queue holds a writer until growth releases it
# VM-Args: --mem 3072 --timeout 900 --include @BUILD@/tests/vm_enospc_writer
set -u
# shellcheck source=vm-tests/lib/common.sh
. /vm/lib/common.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }
json_field() { sed -n "s/.*\"$1\": \"\{0,1\}\([^\",]*\).*/\1/p"; }
pool_mode() { dmsetup status --noflush "$1" | awk '{ print $8 }'; }
T_START=$(ms_now)

step "a. ENOSPC: a pool with a pattern volume, a volume to free later, an xfs volume, a container"
run ts pool create --loopback --data-size 256M --metadata-size 8M --base-size 512M --min-free-space 5
POOL=$(ts --json pool status | json_field PoolName)
run ts volume create keep --size 64M --fs none
K=$(ts activate keep) || fail "activate keep"
dd if=/dev/urandom of=pat bs=1M count=32 2>/dev/null
run dd if=pat of="$K" bs=1M oflag=direct conv=fsync
run ts volume create victim --size 128M --fs none
V=$(ts activate victim) || fail "activate victim"
run dd if=/dev/zero of="$V" bs=1M count=96 oflag=direct
run ts deactivate victim
run ts volume create xv --size 320M --fs xfs
XM=$(ts mount xv) || fail "mount xv"
XDEV=$(dmsetup info -c --noheadings -o blkdevname "$(ts --json inspect xv | json_field DeviceName)")
check_eq "$(cat "/sys/fs/xfs/$XDEV/error/metadata/ENOSPC/max_retries")" 3 "xfs ENOSPC max_retries"
run ts container create c0 --from base
CM=$(ts mount c0) || fail "mount c0"
dd if=/dev/urandom of="$CM/before" bs=1M count=4 conv=fsync 2>/dev/null
BEFORE=$(sha_of "$CM/before")
run ts unmount c0
run ts container create c1 --from base
CM=$(ts mount c1) || fail "mount c1"
ts pool status

step "a. fill c1 with O_DIRECT 1 MiB writes until the pool is out of data space"
# vm_enospc_writer times each write() itself; a hang would hit the timeout (status 124).
WRITER=$(find / /tmp -xdev -name vm_enospc_writer -type f 2>/dev/null | head -n 1)
[ -n "$WRITER" ] || fail "vm_enospc_writer not included"
T_W0=$(ms_now)
timeout 120 "$WRITER" "$CM/fill" >writer.out
RC=$?
cat writer.out
check_eq "$RC" 1 "writer exit status (124 = hung)"
grep -q "errno=28 " writer.out || fail "writer did not get ENOSPC"
echo "ENOSPC: $(cat writer.out); the writer process ran $(($(ms_now) - T_W0)) ms"
check_eq "$(pool_mode "$POOL")" out_of_data_space "kernel pool mode"
ts pool status | tee st.txt
grep -q "^State: *out_of_data_space" st.txt || fail "status does not say out_of_data_space"
grep -q "Warning: pool out of data space" st.txt || fail "status gives no next step"
ts --json pool status | grep -q '"State": "out_of_data_space"' || fail "status --json"
expect_fail ts volume create nv --size 16M --fs none 2>err.txt
cat err.txt
grep -q "pool out of data space ([0-9]*/[0-9]* blocks used)" err.txt || fail "no out-of-space refusal"
expect_fail ts container create c2 --from base 2>err.txt
grep -q "pool out of data space" err.txt || fail "container create not refused"

step "a. xfs on the full pool: a write fails, unmount finishes (bounded ENOSPC retries)"
( dd if=/dev/zero of="$XM/f" bs=1M count=16 conv=fsync 2>xdd.err; echo $? >xdd.rc )
cat xdd.err
check_ne "$(cat xdd.rc)" 0 "xfs writer exit status"
T_U0=$(ms_now)
run ts unmount xv
echo "xfs unmount on the full pool took $(($(ms_now) - T_U0)) ms"

step "a. growing the pool (pool set --data-size) brings it back to rw; a new write lands"
T_G0=$(ms_now)
run ts pool set --data-size 272M
check_eq "$(pool_mode "$POOL")" rw "kernel pool mode after growth"
ts --json pool status | grep -q '"State": "rw"' || fail "status not rw after growth"
tail_sha() { dd if="$1" bs=1M skip=32 count=4 2>/dev/null | sha256sum | cut -d' ' -f1; }
run dd if=pat of="$K" bs=1M count=4 seek=32 oflag=direct conv=fsync
check_eq "$(tail_sha "$K")" "$(sha_of pat 4194304)" "keep's new 4 MiB after growth"
echo "growth back to rw and a new write: $(($(ms_now) - T_G0)) ms"
# Fill it again (28 MiB > the 16 MiB added), so that rm below starts from out_of_data_space.
dd if=/dev/zero of="$K" bs=1M count=28 seek=36 oflag=direct 2>dd.err && fail "refill did not hit ENOSPC"
grep -q "No space left on device" dd.err || { cat dd.err; fail "refill: no ENOSPC"; }
check_eq "$(pool_mode "$POOL")" out_of_data_space "kernel pool mode after the refill"

step "a. rm of another device brings the pool back to rw"
run ts rm victim
check_eq "$(pool_mode "$POOL")" rw "kernel pool mode after rm"
ts --json pool status | grep -q '"State": "rw"' || fail "status not rw after rm"
run ts volume create nv --size 16M --fs none
check_eq "$(sha_of "$K" 33554432)" "$(sha_of pat)" "keep after ENOSPC"
run ts unmount c1
CM=$(ts mount c0) || fail "mount c0"
check_eq "$(sha_of "$CM/before")" "$BEFORE" "c0/before after ENOSPC"
run ts unmount c0
run ts deactivate keep
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
run ts pool destroy --force
echo "scenario a: $(($(ms_now) - T_START)) ms"

T_C=$(ms_now)
step "c. tiny metadata device, many snapshots: refused by the guard while the pool is still rw"
R=/tmp/tsc
run ts pool create --loopback --data-size 1G --metadata-size 2M --base-size 16M
POOL=$(ts --json pool status | json_field PoolName)
run ts volume create v --size 512M --fs none
D=$(ts activate v) || fail "activate v"
run dd if=/dev/urandom of=pat bs=1M count=16
run dd if=/dev/zero of="$D" bs=1M count=496 oflag=direct
run dd if=pat of="$D" bs=1M seek=496 oflag=direct conv=fsync
# The pattern's 16 MiB at 496 MiB: kept by the first snapshot, overwritten in the origin.
tail_sha() { dd if="$1" bs=1M skip=496 count=16 2>/dev/null | sha256sum | cut -d' ' -f1; }
check_eq "$(tail_sha "$D")" "$(sha_of pat)" "v before the snapshots"
echo "metadata after filling v: $(pool_status_field "$POOL" 2)"
n=0
while :; do
  n=$((n + 1))
  [ $n -gt 60 ] && fail "no refusal after 60 snapshots"
  if ! ts volume clone v "s$n" 2>err.txt; then break; fi
  # One 4 KiB write per 4 MiB of the origin: every mapping leaf is copied (~40 metadata blocks,
  # less than the 10% guard of a 2 MiB metadata device, so the guard is met before the kernel).
  fio --name=cow --filename="$D" --rw=write:4092k --bs=4k --direct=1 --size=512M --io_size=512k \
    --ioengine=psync --eta=never --output=/dev/null || fail "fio on v"
done
echo "metadata when snapshot $n was refused: $(pool_status_field "$POOL" 2)"
cat err.txt
grep -q "pool metadata space below --min-free-space 10%" err.txt || fail "wrong refusal"
check_eq "$(pool_mode "$POOL")" rw "pool mode after the refusal"
USED=$(pool_status_field "$POOL" 2)
echo "refused snapshot $n with metadata $USED used"
check_gt "${USED#*/}" "${USED%/*}" "metadata not exhausted"
S1=$(ts activate s1) || fail "activate s1"
check_eq "$(tail_sha "$S1")" "$(sha_of pat)" "first snapshot keeps the original"
check_ne "$(tail_sha "$D")" "$(sha_of pat)" "origin was rewritten"
run ts deactivate s1
run ts deactivate v
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
run ts pool destroy --force
echo "scenario c: $(($(ms_now) - T_C)) ms"

T_B=$(ms_now)
step "b. loopback autoextend: a writer past 80% grows the pool, no write fails"
R=/tmp/tsb
run ts pool create --loopback --data-size 256M --metadata-size 8M --base-size 1G
POOL=$(ts --json pool status | json_field PoolName)
run ts pool set --autoextend-threshold 80 --autoextend-percent 50 --max-size 1G
ts pool monitor >monitor.log 2>&1 &
MON=$!
run ts container create w --from base
WM=$(ts mount w) || fail "mount w"
run dd if=/dev/zero of="$WM/big" bs=1M count=400 oflag=direct conv=fsync
kill $MON
wait $MON 2>/dev/null
cat monitor.log
grep -q "autoextend:" monitor.log || fail "monitor did not autoextend"
TOTAL=$(ts --json pool status | json_field DataSpaceTotal)
check_gt "$TOTAL" 268435456 "data space after autoextend"
run ts unmount w
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "scenario b: $(($(ms_now) - T_B)) ms"

T_Q=$(ms_now)
step "q. --no-space queue: a write that needs a block waits on the full pool; growth releases it"
R=/tmp/tsq
run ts pool create --loopback --data-size 64M --metadata-size 4M --base-size 16M --min-free-space 1 --no-space queue
POOL=$(ts --json pool status | json_field PoolName)
ts pool status | grep -q "^When full: *queue" || fail "status does not show the queue policy"
run ts volume create q --size 128M --fs none
Q=$(ts activate q) || fail "activate q"
dd if=/dev/urandom of=qpart bs=1M count=8 2>/dev/null
for _ in 1 2 3 4 5 6 7 8 9 10; do cat qpart; done >qpat
( dd if=qpat of="$Q" bs=1M oflag=direct conv=fsync 2>qdd.err; echo $? >qdd.rc ) &
QW=$!
i=0
while [ "$(pool_mode "$POOL")" != out_of_data_space ]; do
  i=$((i + 1))
  [ $i -gt 300 ] && fail "the queue-mode pool never ran out of data space"
  sleep 0.1
done
sleep 3
[ -e qdd.rc ] && fail "the writer finished on a full queue-mode pool: $(cat qdd.rc) $(cat qdd.err)"
echo "the writer waits on the full pool, as --no-space queue asks"
T_G=$(ms_now)
timeout 60 thinsnap --root "$R" pool set --data-size 160M || fail "pool set --data-size on a full queue-mode pool"
wait $QW
check_eq "$(cat qdd.rc)" 0 "the queued writer's exit status after growth"
echo "growth released the queued writer in $(($(ms_now) - T_G)) ms"
check_eq "$(pool_mode "$POOL")" rw "kernel pool mode after growth"
check_eq "$(sha_of "$Q" 83886080)" "$(sha_of qpat)" "the queued writes landed"
run ts deactivate q
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "scenario q: $(($(ms_now) - T_Q)) ms"
echo "pool_space: ok"
