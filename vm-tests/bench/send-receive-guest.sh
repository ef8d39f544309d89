#!/bin/sh
# The guest half of vm-tests/bench/send-receive.sh (run by vm-tests/run).
set -u
. /vm/lib/common.sh
A=/a/root
B=/b/root
ta() { thinsnap --root "$A" "$@"; }
tb() { thinsnap --root "$B" "$@"; }
json_num() { sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" "$2" | head -n1; }
# ratio A B: A/B with three decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

for n in 0 1; do
  d=/a
  [ $n = 1 ] && d=/b
  run mkfs.ext4 -q /dev/nvme${n}n1
  mkdir -p $d && run mount /dev/nvme${n}n1 $d
done
run ta pool create --loopback --data-size 6G --metadata-size 64M --base-size 64M
run tb pool create --loopback --data-size 6G --metadata-size 64M --base-size 64M
run ta volume create vol --size 4G --fs none
DEV=$(ta activate vol) || fail "activate vol"
dd if=/dev/urandom of=/tmp/chunk bs=1M count=64 2>/dev/null || fail "urandom"
step "write 1 GiB: 16 x 64 MiB at every 256 MiB"
i=0
while [ $i -lt 16 ]; do
  dd if=/tmp/chunk of="$DEV" bs=1M seek=$((i * 256)) oflag=direct conv=notrunc 2>/dev/null ||
    fail "dd chunk $i"
  i=$((i + 1))
done
run ta deactivate vol
run ta volume clone vol s1
SIZE=4294967296

step "dd of the whole device (the baseline)"
D1=$(ta volume clone s1 s1-dd >/dev/null && ta activate s1-dd) || fail "activate s1-dd"
t0=$(ms_now)
dd if="$D1" of=/dev/null bs=4M iflag=direct 2>/dev/null || fail "dd"
dd_ms=$(($(ms_now) - t0))
run ta rm s1-dd

step "full send of s1"
t0=$(ms_now)
ta --json send s1 2> full.json > /dev/null || { cat full.json; fail "send s1"; }
full_ms=$(($(ms_now) - t0))
cat full.json
full_bytes=$(json_num WireBytes full.json)
run ta send s1 -o /a/s1.ts
t0=$(ms_now)
run tb receive s1 -i /a/s1.ts
full_recv_ms=$(($(ms_now) - t0))

step "change 1% of the blocks: 164 x 256 KiB (655 blocks of 64 KiB), one every 25 MiB"
DEV=$(ta activate vol) || fail "activate vol"
i=0
while [ $i -lt 164 ]; do
  dd if=/tmp/chunk of="$DEV" bs=256k count=1 seek=$((i * 100 + 37)) skip=$i oflag=direct \
    conv=notrunc 2>/dev/null || fail "dd change $i"
  i=$((i + 1))
done
run ta deactivate vol
run ta volume clone vol s2

step "incremental send of s2 from s1"
t0=$(ms_now)
ta --json send s2 --from s1 2> incr.json > /dev/null || { cat incr.json; fail "send s2"; }
incr_ms=$(($(ms_now) - t0))
cat incr.json
incr_bytes=$(json_num WireBytes incr.json)
run ta send s2 --from s1 -o /a/s2.ts
t0=$(ms_now)
run tb receive s2 -i /a/s2.ts
incr_recv_ms=$(($(ms_now) - t0))

step "check: the received s2 equals the sent one"
C1=$(ta volume clone s2 s2-c >/dev/null && ta activate s2-c) || fail "activate s2-c"
C2=$(tb volume clone s2 s2-c >/dev/null && tb activate s2-c) || fail "activate s2-c on B"
check_eq "$(sha_of "$C2")" "$(sha_of "$C1")" "sha256 of s2"

echo
echo "| what | bytes | bytes / dd | wall ms | time / dd |"
echo "|---|---|---|---|---|"
echo "| dd iflag=direct bs=4M of the 4 GiB device | $SIZE | 1.000 | $dd_ms | 1.000 |"
echo "| full send (1 GiB written) | $full_bytes | $(ratio "$full_bytes" $SIZE) | $full_ms | $(ratio $full_ms $dd_ms) |"
echo "| incremental send (1% of blocks changed) | $incr_bytes | $(ratio "$incr_bytes" $SIZE) | $incr_ms | $(ratio $incr_ms $dd_ms) |"
echo "| full receive from a file | $full_bytes | $(ratio "$full_bytes" $SIZE) | $full_recv_ms | $(ratio $full_recv_ms $dd_ms) |"
echo "| incremental receive from a file | $incr_bytes | $(ratio "$incr_bytes" $SIZE) | $incr_recv_ms | $(ratio $incr_recv_ms $dd_ms) |"
