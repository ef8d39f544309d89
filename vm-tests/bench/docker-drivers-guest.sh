#!/bin/sh
# Description: guest half of vm-tests/bench/docker-drivers.sh (run it through that script).
# Usage: docker-drivers-guest.sh COUNT PEERBENCH
# One dockerd binary, two storage drivers, one after the other in this boot, each on a fresh
# thin pool of the same shape (loop files in /tmp: 6 GiB data, 64 MiB metadata, 64 KiB blocks,
# skip_block_zeroing, ext4, 512 MiB base device):
#   devicemapper  Docker's own driver on a pool made with dmsetup (dm.thinpooldev,
#                 dm.use_deferred_removal=true, dm.override_udev_sync_check=true: no udev here)
#   thinsnap      `thinsnap serve --docker-plugin` (--experimental --storage-driver thinsnap)
# and for each: `docker run --rm IMG true`, `docker create` + `docker rm`, `docker commit` of a
# container with one changed file, COUNT runs each (peerbench exec: fork + exec + wait).
# Prints "DRIVER-OP n=N median=MS p95=MS max=MS" lines.
set -eu
# shellcheck disable=SC1091 # the harness provides them inside the guest
. /vm/lib/common.sh
# shellcheck disable=SC1091
. /vm/lib/docker.sh
N=$1 PB=$2
trap stop_all EXIT
docker_prepare
build_image /tmp/img bench:img

# measure DRIVER: the three operations against the running dockerd.
measure() {
  run docker load -q -i /tmp/img/image.tar
  docker run --network none --name src bench:img sh -c 'echo changed > /etc/motd' >/dev/null
  "$PB" exec "$1-run-rm" "$N" docker run --rm --network none bench:img true
  # shellcheck disable=SC2016 # expanded by the inner shell
  "$PB" exec "$1-create-rm" "$N" sh -c 'docker rm "$(docker create --network none bench:img true)"'
  "$PB" exec "$1-commit" "$N" docker commit src "bench:c%d"
  docker rm src >/dev/null
}

step "devicemapper: Docker's own driver on a dmsetup-made pool"
truncate -s 6G /tmp/dm-data
truncate -s 64M /tmp/dm-meta
DATA=$(losetup -f --show /tmp/dm-data)
META=$(losetup -f --show /tmp/dm-meta)
dd if=/dev/zero of="$META" bs=4096 count=1 conv=fsync 2>/dev/null
run dmsetup create dmbench-pool --table \
  "0 $(blockdev --getsz "$DATA") thin-pool $META $DATA 128 32768 1 skip_block_zeroing"
start_dockerd --data-root /tmp/docker-dm --storage-driver devicemapper \
  --storage-opt dm.thinpooldev=/dev/mapper/dmbench-pool --storage-opt dm.use_deferred_removal=true \
  --storage-opt dm.override_udev_sync_check=true --storage-opt dm.basesize=512M \
  --storage-opt dm.fs=ext4
docker info 2>/dev/null | grep -E 'Storage Driver|Pool Blocksize|Base Device Size|Backing'
measure devicemapper
stop_dockerd

step "thinsnap: the graph driver plugin"
R=/tmp/ts
run thinsnap --root $R pool create --loopback --data-size 6G --metadata-size 64M --base-size 512M
start_plugin $R
start_dockerd --data-root /tmp/docker-ts --storage-driver thinsnap
docker info 2>/dev/null | grep -E 'Storage Driver|Pool Blocksize|Base Device Size|Backing'
measure thinsnap
stop_dockerd
stop_plugin
