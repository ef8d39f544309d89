#!/bin/sh
# Description: send/receive between two pools on two NVMe namespaces: a full send of an ext4 volume with sparse data carries about its provisioned bytes and arrives equal (sha256 of the device); a 1% change goes as an incremental of about that size; a chain of three incrementals with an fstrim in the middle reaches the receiver as unmaps (its mapped bytes drop); piped send | receive; truncated, flipped, wrong-base, past-the-end, absurd-length and newer-version streams refused in one line with ls unchanged; kill -9 of a receive leaves nothing after the next command; pool check and thin_check clean
# VM-Args: --nvme 1G --nvme 1G --mem 2048 --timeout 840 --include @BUILD@/tests/vm_stream_tool
set -u
. /vm/lib/common.sh
TOOL=$(find / -path /proc -prune -o -name vm_stream_tool -type f -print 2>/dev/null | head -n1)
[ -x "$TOOL" ] || fail "vm_stream_tool not included"
A=/a/root
B=/b/root
ta() { thinsnap --root "$A" "$@"; }
tb() { thinsnap --root "$B" "$@"; }
# json_num FIELD FILE: the integer value of FIELD in a JSON summary.
json_num() { sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" "$2" | head -n1; }
# mapped_of ROOT NAME: bytes the pool maps for NAME (df --json).
mapped_of() {
  thinsnap --root "$1" --json df | awk -v n="$2" '
    /"Mapped"/ { m = $2; gsub(/[^0-9]/, "", m) }
    /"Name"/ { nm = $2; gsub(/[",]/, "", nm) }
    /}/ { if (nm == n) print m; nm = "" }'
}
# sha_live FN NAME: sha256 of NAME itself (for the source volume that is written anyway).
sha_live() {
  _d=$("$1" activate "$2") || fail "activate $2"
  sha_of "$_d"
  "$1" deactivate "$2" || fail "deactivate $2"
}
# step: with the guest's uptime, to see where the time goes.
step() { echo "--- [$(cut -d' ' -f1 /proc/uptime) s] $*"; }
# thin_check_live ROOT: thin_check of the live pool's metadata snapshot (reserve, check, release).
thin_check_live() {
  _st=$(thinsnap --root "$1" --json pool status) || fail "pool status of $1"
  _pool=$(echo "$_st" | sed -n 's/.*"PoolName": "\([^"]*\)".*/\1/p' | head -n1)
  _meta=$(echo "$_st" | sed -n 's/.*"MetadataFile": "\([^"]*\)".*/\1/p' | head -n1)
  _loop=$(losetup -j "$_meta" | cut -d: -f1 | head -n1)
  [ -b "$_loop" ] || fail "no loop device for $_meta"
  dmsetup message "$_pool" 0 reserve_metadata_snap || fail "reserve_metadata_snap $_pool"
  thin_check -m "$_loop" >/dev/null 2>thin_check.err
  _rc=$?
  dmsetup message "$_pool" 0 release_metadata_snap || fail "release_metadata_snap $_pool"
  [ $_rc -eq 0 ] || fail "thin_check -m of $_pool ($_loop): $(cat thin_check.err)"
}
# within A B SLACK WHAT: A >= B and A <= B + SLACK.
within() {
  if [ "$1" -lt "$2" ] || [ "$1" -gt $(($2 + $3)) ]; then
    fail "$4: $1 bytes, expected $2..$(($2 + $3))"
  fi
}

step "two loopback pools, each on an ext4 filesystem on its own NVMe namespace"
for n in 0 1; do
  d=/a
  [ $n = 1 ] && d=/b
  run mkfs.ext4 -q /dev/nvme${n}n1
  mkdir -p $d && run mount /dev/nvme${n}n1 $d
done
run ta pool create --loopback --data-size 700M --metadata-size 32M --base-size 64M
run tb pool create --loopback --data-size 700M --metadata-size 32M --base-size 64M

step "a 64 MiB ext4 volume with files and a sparse file; snapshot s1"
run ta volume create vol --size 64M
M=$(ta mount vol) || fail "mount vol"
dd if=/dev/urandom of="$M/f1" bs=1M count=6 2>/dev/null || fail "dd f1"
dd if=/dev/urandom of="$M/f2" bs=1M count=4 2>/dev/null || fail "dd f2"
dd if=/dev/urandom of="$M/sparse" bs=64k count=1 seek=150 2>/dev/null || fail "dd sparse"
run ta unmount vol
run ta volume clone vol s1

step "full send: bytes on the wire ~ provisioned bytes, not the device size"
ta --json send s1 -o /a/s1.ts > s1.json || fail "send s1"
cat s1.json
wire=$(json_num WireBytes s1.json)
mapped=$(mapped_of "$A" s1)
echo "s1: $wire bytes on the wire, $mapped bytes mapped, device 67108864"
within "$wire" "$mapped" $((mapped / 100 + 65536)) "full stream of s1"
check_gt $((67108864 / 2)) "$wire" "a full stream is far below the device size"
check_eq "$(wc -c < /a/s1.ts)" "$wire" "stream file size"
run tb receive s1 -i /a/s1.ts
tb --json inspect s1 > s1i.json
grep -q '"Filesystem": "ext4"' s1i.json || fail "received s1 lost its filesystem type"
grep -q '"Kind": "volume"' s1i.json || fail "received s1 lost its kind"
grep -q '"DeviceSize": 67108864' s1i.json || fail "received s1 lost its size"
uuid_a=$(ta --json inspect s1 | sed -n 's/.*"thinsnap.uuid": "\([^"]*\)".*/\1/p')
uuid_b=$(sed -n 's/.*"thinsnap.uuid": "\([^"]*\)".*/\1/p' s1i.json)
check_eq "$uuid_b" "$uuid_a" "identity carried by the stream"
sum_vol=$(sha_live ta vol)
check_eq "$(sha_of_clone "$B" s1)" "$sum_vol" "sha256 of s1 after a full receive"

step "change 1% of the blocks in place, snapshot s2, incremental send from s1"
M=$(ta mount vol) || fail "mount vol"
dd if=/dev/urandom of="$M/f1" bs=64k count=10 conv=notrunc,fsync 2>/dev/null || fail "dd 1%"
run ta unmount vol
run ta volume clone vol s2
ta --json send s2 --from s1 -o /a/s2.ts > s2.json || fail "send s2"
cat s2.json
data=$(json_num DataBytes s2.json)
wire=$(json_num WireBytes s2.json)
echo "s2: $data data bytes, $wire on the wire for 655360 changed bytes"
# The file's blocks plus what ext4 wrote beside them (journal, inode, bitmaps): a few blocks.
within "$data" 655360 $((2 << 20)) "incremental s1 -> s2"
within "$wire" "$data" 65536 "incremental stream framing"
run tb receive s2 -i /a/s2.ts
sum_vol=$(sha_live ta vol)
check_eq "$(sha_of_clone "$B" s2)" "$sum_vol" "sha256 of s2 after an incremental receive"

step "chain: delete + fstrim (left_only ranges) in s3, a small change in s4 through a pipe"
M=$(ta mount vol) || fail "mount vol"
rm "$M/f2" && sync
run fstrim -v "$M"
run ta unmount vol
run ta volume clone vol s3
ta --json send s3 --from s2 -o /a/s3.ts > s3.json || fail "send s3"
cat s3.json
unmaps=$(json_num UnmapRanges s3.json)
unmapped=$(json_num UnmappedBytes s3.json)
check_gt "$unmaps" 0 "unmap records in s3"
check_gt "$unmapped" $((3 << 20)) "unmapped bytes in s3 (4 MiB deleted)"
run tb receive s3 --from s2 -i /a/s3.ts
m2=$(mapped_of "$B" s2)
m3=$(mapped_of "$B" s3)
echo "receiver mapped: s2 $m2, s3 $m3"
check_gt "$((m2 - m3))" $((3 << 20)) "the receiver's mapped bytes drop by the discarded range"
M=$(ta mount vol) || fail "mount vol"
echo "the fourth state" > "$M/new" && sync
run ta unmount vol
run ta volume clone vol s4
ta send s4 --from s3 | tb receive s4 || fail "send s4 | receive s4"
sum_vol=$(sha_live ta vol)
check_eq "$(sha_of_clone "$B" s4)" "$sum_vol" "sha256 of s4 at the end of the chain"
check_eq "$(sha_of_clone "$B" s3)" "$(sha_of_clone "$A" s3)" "sha256 of s3"

step "bad streams: refused in one line naming where, nothing left behind"
# From a full stream of vol, which the receiver does not hold (it has s1..s4, not vol).
run ta send vol -o /a/v.ts
run ta volume clone vol s5
run ta send s5 --from s4 -o /a/s5.ts
run ta volume clone vol s6
run ta send s6 --from s5 -o /a/s6.ts
size=$(wc -c < /a/v.ts)
head -c $((size - 1000)) /a/v.ts > /a/trunc.ts
"$TOOL" flip /a/v.ts /a/flip.ts $((size / 2)) || fail "flip"
"$TOOL" past-end /a/v.ts /a/past.ts || fail "past-end"
"$TOOL" absurd-length /a/v.ts /a/absurd.ts || fail "absurd-length"
"$TOOL" newer-version /a/v.ts /a/newer.ts || fail "newer-version"
before=$(tb ls)
dm_before=$(dmsetup ls | grep -c thinsnap)
# refused FILE EXPECTED [ARGS...]: receive x from FILE fails with one line holding EXPECTED.
refused() {
  _f=$1 _want=$2
  shift 2
  if tb receive x -i "$_f" "$@" 2> err.txt; then fail "receive of $_f succeeded"; fi
  cat err.txt
  check_eq "$(wc -l < err.txt)" 1 "error lines for $_f"
  grep -q "$_want" err.txt || fail "error for $_f does not say '$_want'"
  check_eq "$(tb ls)" "$before" "ls after refusing $_f"
  check_eq "$(dmsetup ls | grep -c thinsnap)" "$dm_before" "dm devices after refusing $_f"
  tb pool check >check.txt 2>&1 || { cat check.txt; fail "pool check after refusing $_f"; }
  thin_check_live "$B"
}
refused /a/trunc.ts "truncated.*at byte"
refused /a/flip.ts "stream record [0-9]* (data) at byte [0-9]*: checksum mismatch"
refused /a/past.ts "record 1 (data) at byte [0-9]*: range .* past the device's end"
refused /a/absurd.ts "record 1 (data) at byte [0-9]*: record length .* out of range"
refused /a/newer.ts "version 2 is newer"
refused /a/s5.ts "the stream was made against" --from s1
refused /a/s6.ts "which this pool does not hold"
refused /a/s1.ts "already holds that device"

step "kill -9 of a receive midway: no NAME and no leak after the next command"
mkfifo /tmp/fifo
# thinsnap itself in the background (not through tb, whose subshell would take the kill): it
# reads 4 MB of the stream and then waits for more, with its hidden device active.
thinsnap --root "$B" receive killed -i /tmp/fifo 2>killed.err &
rpid=$!
(head -c 4000000 /a/v.ts && exec sleep 120) >/tmp/fifo &
fpid=$!
n=0
while [ "$(dmsetup ls | grep -c thinsnap)" -le "$dm_before" ] && [ $n -lt 300 ]; do
  sleep 0.1
  n=$((n + 1))
done
check_gt "$(dmsetup ls | grep -c thinsnap)" "$dm_before" "the receiving device is active"
sleep 1
kill -9 $rpid || fail "kill -9 of the receive"
wait $rpid
check_eq "$?" 137 "exit status of the killed receive"
kill $fpid 2>/dev/null
wait $fpid 2>/dev/null
cat killed.err
check_eq "$(wc -c <killed.err)" 0 "the killed receive printed nothing (it had no chance to clean up)"
check_gt "$(dmsetup ls | grep -c thinsnap)" "$dm_before" "the hidden device is still there after the kill"
tb -v ls >after.txt 2>notes.txt || fail "ls after the kill"
cat notes.txt after.txt
grep -q "removed the unfinished receive of 'killed'" notes.txt ||
  fail "the next command did not report removing the killed receive"
check_eq "$(cat after.txt)" "$before" "ls after the killed receive"
check_eq "$(dmsetup ls | grep -c thinsnap)" "$dm_before" "dm devices after the killed receive"
run tb pool check
thin_check_live "$B"

step "pools deactivate; thin_check clean on both"
run ta pool deactivate
run tb pool deactivate
thin_check_pool_meta $A/metadata
thin_check_pool_meta $B/metadata
echo "send_receive: ok"
