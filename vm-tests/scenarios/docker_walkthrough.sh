#!/bin/sh
# Description: real dockerd on thinsnap's graph driver plugin: docker load (whiteout layer), info, run, exec, diff A/C/D, inspect = thinsnap inspect, commit, run from it, --storage-opt size, rm/rmi remove the devices, pool check + thin_check
# VM-Args: --mem 4096 --timeout 880 --include /usr/sbin/dockerd --include /usr/bin/docker --include /usr/bin/containerd --include /usr/bin/containerd-shim-runc-v2 --include /usr/sbin/runc
set -u
. /vm/lib/common.sh
. /vm/lib/docker.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }
trap stop_all EXIT
D="docker"

step "1. a loopback pool (64 KiB blocks, ext4, 512 MiB base), the plugin, dockerd"
docker_prepare
run ts pool create --loopback --data-size 6G --metadata-size 64M --base-size 512M
start_plugin "$R"
start_dockerd --storage-driver thinsnap
$D info >info.txt 2>&1 || fail "docker info"
grep -E 'Storage Driver|Pool|Backing|Space|Udev|Deferred Removal|Library|Base Device' info.txt
grep -q 'Storage Driver: thinsnap' info.txt || fail "docker info does not name the thinsnap driver"
for k in 'Pool Name: thinsnap-' 'Pool Blocksize: 65.54kB' 'Base Device Size: 536.9MB' \
  'Backing Filesystem: ext4' 'Data Space Total: 6.442GB' 'Metadata Space Total: 67.11MB' \
  'Data Space Used' 'Data Space Available' 'Metadata Space Used' 'Metadata Space Available' \
  'Thin Pool Minimum Free Space: 644.2MB' 'Udev Sync Supported: false' \
  'Deferred Removal Enabled: true' 'Library Version'; do
  grep -q "$k" info.txt || fail "docker info lacks '$k'"
done
BASE_DEVICES=$(ts ls | wc -l)

step "2. docker load: two layers, the second with a whiteout"
build_image /tmp/img tsbox:latest
run $D load -q -i /tmp/img/image.tar
check_eq "$($D image inspect --format '{{len .RootFS.Layers}}' tsbox)" 2 "layers of tsbox"
check_eq "$(($(ts ls | wc -l) - BASE_DEVICES))" 2 "thinsnap layers after docker load"

step "3. docker run -d, exec writes /TEST; docker diff shows A, C and D"
A=$($D run -d --network none --name ca tsbox sleep 100000) || fail "docker run -d"
run $D exec ca sh -c 'echo Hello World > /TEST && rm /etc/passwd'
check_eq "$($D exec ca cat /TEST)" "Hello World" "/TEST in ca"
[ "$($D exec ca cat /opt/app/README)" = "hello from layer 2" ] || fail "layer 2 content missing"
$D exec ca stat /etc/motd >/dev/null 2>&1 && fail "the whiteout did not delete /etc/motd"
$D diff ca >diff.txt || fail "docker diff"
cat diff.txt
grep -qx 'A /TEST' diff.txt || fail "docker diff lacks A /TEST"
grep -qx 'D /etc/passwd' diff.txt || fail "docker diff lacks D /etc/passwd"
grep -qx 'C /etc' diff.txt || fail "docker diff lacks C /etc"

step "4. docker inspect's GraphDriver matches thinsnap inspect"
check_eq "$($D inspect --format '{{.GraphDriver.Name}}' ca)" thinsnap "GraphDriver.Name"
MOUNT_ID=$(cat "/var/lib/docker/image/thinsnap/layerdb/mounts/$A/mount-id") || fail "mount-id"
J=$(ts --json inspect "$MOUNT_ID") || fail "thinsnap inspect $MOUNT_ID"
for k in DeviceId DeviceName DeviceSize; do
  got=$($D inspect --format "{{.GraphDriver.Data.$k}}" ca)
  echo "$k: docker $got, thinsnap $(json_field "$J" "$k")"
  check_eq "$got" "$(json_field "$J" "$k")" "GraphDriver.Data.$k"
done

step "5. docker commit: one more layer; a container from it reads Hello World"
run $D commit ca tsbox:committed
check_eq "$($D image inspect --format '{{len .RootFS.Layers}}' tsbox:committed)" 3 "layers of the commit"
check_eq "$($D run --rm --network none tsbox:committed cat /TEST)" "Hello World" "/TEST from the commit"
$D run --rm --network none tsbox stat /TEST >/dev/null 2>&1 && fail "the original image has /TEST"
echo "tsbox has no /TEST: ok"

step "6. --storage-opt size=1G gives a 1 GiB root"
# The root filesystem's size in KiB, as statfs(2) inside the container sees it.
# shellcheck disable=SC2016 # expanded by the container's shell
ROOT_KB='stat -f -c "%b %S" / | { read -r b s; echo $((b * s / 1024)); }'
run $D create --network none --name cs --storage-opt size=1G tsbox sh -c "$ROOT_KB"
check_eq "$($D inspect --format '{{.GraphDriver.Data.DeviceSize}}' cs)" 1073741824 "DeviceSize of cs"
KB=$($D start -a cs)
echo "root of cs: $KB KiB"
{ [ "$KB" -gt 900000 ] && [ "$KB" -le 1048576 ]; } || fail "the root of cs is $KB KiB, not about 1 GiB"
KB0=$($D run --rm --network none tsbox sh -c "$ROOT_KB")
echo "root of a default container: $KB0 KiB"
{ [ "$KB0" -gt 400000 ] && [ "$KB0" -lt 600000 ]; } || fail "a default root is $KB0 KiB, not the 512 MiB base"

step "7. docker rm and rmi remove the devices; the pool is consistent"
run $D rm -f ca cs
run $D rmi tsbox:committed tsbox
ts ls
check_eq "$(ts ls | wc -l)" "$BASE_DEVICES" "devices left after rm and rmi"
stop_dockerd
stop_plugin
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "docker walkthrough: ok"
