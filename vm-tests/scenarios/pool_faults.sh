#!/bin/sh
# Description: pool faults: dm-flakey error_writes/drop_writes under the data device of a direct pool (errors named, journal consistent, check honest), error_writes under its metadata (pool fails, status says what next, repair recovers); a corrupted metadata block repaired into the spare; the direct-mode autoextend hook run by pool monitor
# VM-Args: --mem 2048 --timeout 900
# Expect-kernel: device-mapper: thin: .*(metadata operation .* failed|aborting current metadata transaction|failed to set 'needs_check' flag|switching pool to (read-only|fail)|dm_pool_commit_metadata|commit failed|Failed to update)
# Expect-kernel: device-mapper: thin metadata: pre-commit callback failed
# Expect-kernel: device-mapper: thin: Deletion of thin device [0-9]+ failed
# Expect-kernel: device-mapper: (block manager|space map|transaction manager|btree|persistent data)
set -u
# shellcheck source=vm-tests/lib/common.sh
. /vm/lib/common.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }
# swap_table DM TARGET...: replace the table of DM (one line over its whole length).
swap_table() {
  _dm=$1
  shift
  if ! { dmsetup suspend "$_dm" && dmsetup load "$_dm" --table "$*" && dmsetup resume "$_dm"; }; then
    fail "swap table of $_dm to: $*"
  fi
}
T_E=$(ms_now)

step "e. a direct pool whose data and metadata devices are dm-linear over loop devices"
truncate -s 512M data.img
truncate -s 16M meta.img spare.img
DL=$(losetup -f --show data.img) || fail "losetup data"
ML=$(losetup -f --show meta.img) || fail "losetup meta"
SL=$(losetup -f --show spare.img) || fail "losetup spare"
DS=$(sectors_of "$DL")
MS=$(sectors_of "$ML")
run dmsetup create tsdata --table "0 $DS linear $DL 0"
run dmsetup create tsmeta --table "0 $MS linear $ML 0"
run ts pool create --data /dev/mapper/tsdata --metadata /dev/mapper/tsmeta --metadata-spare "$SL" --base-size 64M
run ts volume create keep --size 32M --fs none
K=$(ts activate keep) || fail "activate keep"
dd if=/dev/urandom of=pat bs=1M count=16 2>/dev/null
dd if=/dev/urandom of=pat2 bs=1M count=16 2>/dev/null
run dd if=pat of="$K" bs=1M oflag=direct conv=fsync
run ts deactivate keep

step "e. direct-mode autoextend hook: pool monitor runs it once data usage crosses the threshold"
T_H=$(ms_now)
json_field() { sed -n "s/.*\"$1\": \"\{0,1\}\([^\",]*\).*/\1/p"; }
POOL=$(ts --json pool status | json_field PoolName)
rm -f /tmp/hook.env
run ts pool set --autoextend-threshold 12 --autoextend-hook 'env >/tmp/hook.tmp && mv /tmp/hook.tmp /tmp/hook.env'
ts pool monitor >monitor.log 2>&1 &
MON=$!
run ts volume create h --size 64M --fs none
# keep and the base hold ~4% of the 512 MiB; 64 MiB more crosses 12%. Metadata stays near 10%: the
# kernel counts its reserve (a tenth of a small metadata device) as used.
run dd if=/dev/urandom of="$(ts activate h)" bs=1M count=64 oflag=direct conv=fsync
n=0
while [ ! -f /tmp/hook.env ] && [ $n -lt 100 ]; do sleep 0.2; n=$((n + 1)); done
kill -0 $MON 2>/dev/null || { cat monitor.log; fail "pool monitor exited on its own"; }
kill $MON
wait $MON
check_eq $? 143 "monitor exit status after SIGTERM"
cat monitor.log
[ -f /tmp/hook.env ] || fail "the autoextend hook did not run"
grep '^THINSNAP_' /tmp/hook.env | sort
hook_var() { sed -n "s/^$1=//p" /tmp/hook.env; }
check_eq "$(hook_var THINSNAP_POOL)" "$POOL" "THINSNAP_POOL"
check_eq "$(hook_var THINSNAP_POOL_MODE)" direct "THINSNAP_POOL_MODE"
check_eq "$(hook_var THINSNAP_REASON)" data "THINSNAP_REASON"
check_eq "$(hook_var THINSNAP_THRESHOLD)" 12 "THINSNAP_THRESHOLD"
check_eq "$(hook_var THINSNAP_DATA_DEVICE)" /dev/mapper/tsdata "THINSNAP_DATA_DEVICE"
HP=$(hook_var THINSNAP_DATA_PERCENT)
USED=$(ts --json pool status | json_field DataSpaceUsed)
NOW=$((USED * 100 / $(ts --json pool status | json_field DataSpaceTotal)))
echo "hook saw ${HP}% data used; ${NOW}% now"
check_gt "$((HP + 1))" 12 "THINSNAP_DATA_PERCENT at least the threshold"
check_gt "$((NOW + 1))" "$HP" "THINSNAP_DATA_PERCENT at most the usage after the write"
check_eq "$(hook_var THINSNAP_DATA_TOTAL)" "$(ts --json pool status | json_field DataSpaceTotal)" "THINSNAP_DATA_TOTAL"
check_eq "$(($(hook_var THINSNAP_DATA_USED) * 100 / $(hook_var THINSNAP_DATA_TOTAL)))" "$HP" "THINSNAP_DATA_PERCENT vs USED/TOTAL"
grep -q "autoextend hook 'env .*': ok" monitor.log || fail "monitor did not report the hook"
run ts deactivate h
run ts pool set --autoextend-threshold 0
echo "direct autoextend hook: $(($(ms_now) - T_H)) ms"
run ts pool check

run ts volume create w --size 32M --fs none
W=$(ts activate w) || fail "activate w"

step "e. error_writes under the data device: the writer sees EIO, the pool's commit fails"
swap_table tsdata "0 $DS flakey $DL 0 0 3600 1 error_writes"
dd if=pat of="$W" bs=1M count=16 oflag=direct 2>dd.err && fail "a write through error_writes succeeded"
cat dd.err
grep -q "Input/output error" dd.err || fail "writer did not see EIO"
# dm-thin flushes the data device before each metadata commit: that flush fails too, the commit
# is aborted and the pool turns read-only with needs_check. thinsnap must say exactly that.
expect_fail ts volume create e1 --size 64M --fs ext4 2>err.txt
cat err.txt
grep -Eq "needs checking|read-only|Input/output error" err.txt || fail "unclear refusal"
ts pool status | tee st.txt
grep -Eq "^State: *(needs_check|ro)" st.txt || fail "status does not show needs_check/ro"
grep -q "Warning: .*run: thinsnap pool repair" st.txt || fail "status gives no next step"
ts pool check >check.txt && fail "pool check called a needs_check pool consistent"
cat check.txt
grep -q "PROBLEM: pool has needs_check set" check.txt || fail "check does not report needs_check"
swap_table tsdata "0 $DS linear $DL 0"
ts pool repair >repair.txt || { cat repair.txt; fail "pool repair failed"; }
cat repair.txt
grep -q "cleared the needs_check flag" repair.txt || fail "repair did not clear needs_check"
grep -q "pool is consistent" repair.txt || fail "repair did not end consistent"
ts --json pool status | grep -q '"State": "rw"' || fail "pool not rw after repair"
ts ls | grep -q '^e1 ' && fail "e1 exists though its create failed"
run ts pool check
W=$(ts activate w) || fail "activate w"

step "e. drop_writes: writes vanish silently; the metadata stays consistent and check says so"
swap_table tsdata "0 $DS flakey $DL 0 0 3600 1 drop_writes"
run dd if=pat2 of="$W" bs=1M count=16 oflag=direct conv=fsync
swap_table tsdata "0 $DS linear $DL 0"
check_ne "$(sha_of "$W" 16777216)" "$(sha_of pat2)" "dropped writes are not on disk"
run ts pool check
run dd if=pat2 of="$W" bs=1M count=16 oflag=direct conv=fsync
check_eq "$(sha_of "$W" 16777216)" "$(sha_of pat2)" "w after the device came back"
run ts deactivate w

step "e. error_writes under the metadata device: the pool turns read-only, status and check say so"
swap_table tsmeta "0 $MS flakey $ML 0 0 3600 1 error_writes"
expect_fail ts volume create m1 --size 16M --fs none 2>err.txt
cat err.txt
grep -Eq "is now (read-only|failed): run thinsnap pool repair" err.txt || fail "unclear error"
ts pool status | tee st.txt
grep -Eq "^State: *(failed|read_only|ro|needs_check)" st.txt || fail "status does not show the trouble"
grep -q "Warning: .*run: thinsnap pool repair" st.txt || fail "status gives no next step"
expect_fail ts pool check
expect_fail ts volume create m2 --size 16M --fs none
swap_table tsmeta "0 $MS linear $ML 0"
run ts pool repair
ts --json pool status | grep -q '"State": "rw"' || fail "pool not rw after repair"
run ts pool check
ts ls | grep -q '^m1 ' && fail "m1 exists though its create failed"
run ts volume create m1 --size 16M --fs none
check_eq "$(sha_of "$(ts activate keep)" 16777216)" "$(sha_of pat)" "keep after the faults"
run ts deactivate keep
run ts pool deactivate
thin_check_pool_meta /dev/mapper/tsmeta
echo "scenario e: $(($(ms_now) - T_E)) ms"

T_F=$(ms_now)
step "f. repair: a loopback pool, a corrupted metadata block (offline), pool repair"
R=/tmp/tsf
run ts pool create --loopback --data-size 512M --metadata-size 4M --base-size 64M
run ts volume create a --size 16M --fs none
run ts volume clone a b
run dd if=pat of="$(ts activate a)" bs=1M oflag=direct conv=fsync
run dd if=pat2 of="$(ts activate b)" bs=1M oflag=direct conv=fsync
run ts deactivate a
run ts deactivate b
run ts pool deactivate
# The metadata space map's index block: the superblock's metadata_space_map_root (offset 192)
# holds it at +16. thin_check reads it; thin_repair does not need it.
BLK=$(od -A n -t u4 -j 208 -N 4 "$R/metadata" | tr -d ' ')
[ "${BLK:-0}" -gt 0 ] || fail "no metadata space map index in the superblock"
echo "corrupting metadata block $BLK"
run dd if=/dev/urandom of="$R/metadata" bs=16 count=8 seek=$((BLK * 256 + 1)) conv=notrunc
expect_fail ts pool check
expect_fail ts pool activate 2>err.txt
cat err.txt
grep -q "run thinsnap pool repair" err.txt || fail "activate does not point to repair"
ts pool repair >repair.txt || { cat repair.txt; fail "pool repair failed"; }
cat repair.txt
grep -q "thin_check found damage" repair.txt || fail "repair did not report the damage"
grep -q "thin_repair rebuilt the metadata into the spare" repair.txt || fail "no thin_repair"
grep -q "damaged metadata is kept as" repair.txt || fail "damaged copy not kept"
grep -q "pool is consistent" repair.txt || fail "repair did not end consistent"
ls "$R"/metadata.damaged-* >/dev/null || fail "no damaged copy on disk"
[ -f "$R/metadata.spare" ] || fail "no new spare"
run ts pool check
check_eq "$(sha_of "$(ts activate a)" 16777216)" "$(sha_of pat)" "a after repair"
check_eq "$(sha_of "$(ts activate b)" 16777216)" "$(sha_of pat2)" "b after repair"
run ts deactivate a
run ts deactivate b
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "scenario f: $(($(ms_now) - T_F)) ms"
echo "pool_faults: ok"
