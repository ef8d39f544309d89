#!/bin/sh
# Description: the README's QEMU golden disk across a reboot: boot 1 writes a qcow2 image onto a raw thin volume with qemu-img (it stays thin), sends a snapshot of it (full stream) and, after a change, the next snapshot (incremental stream) into files on an NVMe filesystem; boot 2 receives both into a new pool on another namespace, the devices' sha256 equal boot 1's, a clone of the received disk reads the same; pool check and thin_check clean
# VM-Args: --nvme 1G --nvme 1G --mem 2048 --timeout 480 --include /usr/bin/qemu-img
# VM-Boots: 2
set -u
. /vm/lib/common.sh
BOOT=${1:?boot number (1 or 2)}
P=/persist
A=$P/a-root
B=/b/root
ta() { thinsnap --root "$A" "$@"; }
tb() { thinsnap --root "$B" "$@"; }
step() { echo "--- [$(cut -d' ' -f1 /proc/uptime) s] $*"; }
# mapped_of ROOT NAME: bytes the pool maps for NAME (df --json).
mapped_of() {
  thinsnap --root "$1" --json df | awk -v n="$2" '
    /"Mapped"/ { m = $2; gsub(/[^0-9]/, "", m) }
    /"Name"/ { nm = $2; gsub(/[",]/, "", nm) }
    /}/ { if (nm == n) print m; nm = "" }'
}

mkdir -p $P
if [ "$BOOT" = 1 ]; then
  command -v qemu-img >/dev/null || fail "qemu-img not included"
  step "boot 1: pool A on an ext4 filesystem on nvme0n1, which also holds the streams"
  run mkfs.ext4 -q /dev/nvme0n1
  run mount /dev/nvme0n1 $P
  run ta pool create --loopback --data-size 600M --metadata-size 32M --base-size 64M

  step "a 64 MiB qcow2 golden image (8 MiB of data) onto a raw thin volume, as the README does"
  truncate -s 64M $P/src.raw
  dd if=/dev/urandom of=$P/src.raw bs=1M count=6 conv=notrunc 2>/dev/null || fail "dd src"
  dd if=/dev/urandom of=$P/src.raw bs=1M count=2 seek=50 conv=notrunc 2>/dev/null ||
    fail "dd src tail"
  run qemu-img convert -f raw -O qcow2 $P/src.raw $P/golden.qcow2
  run ta volume create golden --size 64M --fs none
  D=$(ta activate golden) || fail "activate golden"
  run qemu-img convert -n --target-is-zero -O raw $P/golden.qcow2 "$D"
  run ta deactivate golden
  mapped=$(mapped_of "$A" golden)
  echo "golden: $mapped bytes mapped for 8 MiB of image data"
  check_gt $((9 << 20)) "$mapped" "the golden volume stays thin"
  check_gt "$mapped" $(((8 << 20) - 1)) "the golden volume holds the image's data"
  run ta volume clone golden golden-1
  run ta send golden-1 -o $P/golden-1.ts

  step "a day later: change golden, snapshot golden-2, send only the changed blocks"
  D=$(ta activate golden) || fail "activate golden"
  dd if=/dev/urandom of="$D" bs=64k count=3 seek=100 oflag=direct conv=fsync 2>/dev/null ||
    fail "dd change"
  run ta deactivate golden
  run ta volume clone golden golden-2
  ta --json send golden-2 --from golden-1 -o $P/golden-2.ts >g2.json || fail "send golden-2"
  data=$(sed -n 's/.*"DataBytes": *\([0-9]*\).*/\1/p' g2.json)
  check_eq "$data" $((3 * 65536)) "data bytes of the incremental stream"
  sha_of_clone "$A" golden-1 >$P/golden-1.sum
  check_eq "$(cat $P/golden-1.sum)" "$(sha_of $P/src.raw)" "golden-1 holds the image"
  sha_of_clone "$A" golden-2 >$P/golden-2.sum
  ls -l $P/*.ts
  sync
  echo "boot 1: ok (rebooting)"
  exit 0
fi

step "boot 2: receive the streams written before the reboot into a new pool on nvme1n1"
run mount /dev/nvme0n1 $P
run mkfs.ext4 -q /dev/nvme1n1
mkdir -p /b && run mount /dev/nvme1n1 /b
run tb pool create --loopback --data-size 600M --metadata-size 32M --base-size 64M
run tb receive golden-1 -i $P/golden-1.ts
run tb receive golden-2 -i $P/golden-2.ts
check_eq "$(sha_of_clone "$B" golden-1)" "$(cat $P/golden-1.sum)" "sha256 of golden-1 across the reboot"
check_eq "$(sha_of_clone "$B" golden-2)" "$(cat $P/golden-2.sum)" "sha256 of golden-2 across the reboot"
step "a VM disk is a clone of the received golden disk"
run tb volume clone golden-2 vm17
D=$(tb activate vm17) || fail "activate vm17"
check_eq "$(sha_of "$D")" "$(cat $P/golden-2.sum)" "sha256 of vm17"
run tb deactivate vm17
run tb pool check
run tb pool deactivate
thin_check_pool_meta $B/metadata
echo "send_receive_reboot: ok"
