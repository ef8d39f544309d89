#!/bin/sh
# Description: direct mode on NVMe: refuses a namespace holding ext4 (signature named, data intact), accepts with --force; 64-deep snapshot chain verified
# VM-Args: --nvme 4G --nvme 256M --mem 3072
set -u
. /vm/lib/common.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }

step "a namespace holding ext4 is refused"
run mkfs.ext4 -q /dev/nvme0n1
mkdir -p m && mount /dev/nvme0n1 m && echo precious > m/keep && umount m
ts pool create --data /dev/nvme0n1 --metadata /dev/nvme1n1 > out.txt 2>&1 && fail "accepted a device with ext4"
cat out.txt
grep -q ext4 out.txt || fail "the refusal does not name ext4"
blkid /dev/nvme0n1 | grep -q ext4 || fail "the ext4 signature is gone"
run e2fsck -fn /dev/nvme0n1
mount -o ro /dev/nvme0n1 m && check_eq "$(cat m/keep)" precious "file on the refused device" && umount m

step "accepted with --force"
run ts pool create --data /dev/nvme0n1 --metadata /dev/nvme1n1 --force --base-size 64M
ts pool status
ts --json pool status | grep -q '"Mode": "direct"' || fail "not direct mode"

step "64-deep snapshot chain"
run ts volume create c0 --size 64M --fs none
i=0
while [ $i -lt 64 ]; do
  D=$(ts activate "c$i") || fail "activate c$i"
  printf 'level %08d\n' $i | dd of="$D" bs=4096 seek=$i conv=sync,fsync oflag=direct 2>/dev/null || fail "write c$i"
  ts deactivate "c$i" || fail "deactivate c$i"
  ts volume clone "c$i" "c$((i + 1))" > /dev/null || fail "clone c$i"
  i=$((i + 1))
done
D=$(ts activate c64) || fail "activate c64"
i=0
while [ $i -lt 64 ]; do
  got=$(dd if="$D" bs=4096 skip=$i count=1 2>/dev/null | head -c 15)
  check_eq "$got" "$(printf 'level %08d' $i)" "block $i of c64"
  i=$((i + 1))
done
D5=$(ts activate c5) || fail "activate c5"
got=$(dd if="$D5" bs=4096 skip=5 count=1 2>/dev/null | head -c 15)
check_eq "$got" "$(printf 'level %08d' 5)" "c5 keeps its own level"
got=$(dd if="$D5" bs=4096 skip=6 count=1 2>/dev/null | head -c 15 | tr -d '\0')
check_eq "$got" "" "c5 has no later levels"
run ts pool check
run ts pool deactivate
thin_check_pool_meta /dev/nvme1n1
run ts pool activate
run ts pool destroy --force
echo "pool_direct_nvme: ok"
