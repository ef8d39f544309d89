#!/bin/sh
# Description: dockerd on thinsnap's plugin through faults: a dockerd restart keeps a stopped container's files, thinsnap kill -9 and restart (idle and mid-request) while dockerd runs, a hostile layer in docker load refused with the entry named
# VM-Args: --mem 4096 --timeout 880 --include /usr/sbin/dockerd --include /usr/bin/docker --include /usr/bin/containerd --include /usr/bin/containerd-shim-runc-v2 --include /usr/sbin/runc --include @BUILD@/tests/vm_tar_tool
set -u
. /vm/lib/common.sh
. /vm/lib/docker.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }
trap stop_all EXIT
D=docker

docker_prepare
run ts pool create --loopback --data-size 4G --metadata-size 64M --base-size 256M
start_plugin "$R"
start_dockerd --storage-driver thinsnap
EMPTY=$(ts ls | wc -l)
build_image /tmp/img tsbox:latest
run $D load -q -i /tmp/img/image.tar
BASE_DEVICES=$(ts ls | wc -l)

step "1. dockerd restarted: a stopped container keeps its files"
check_eq "$($D run --network none --name cb tsbox sh -c 'echo kept >> /kept; wc -l < /kept')" 1 "first run of cb"
stop_dockerd
start_dockerd --storage-driver thinsnap
check_eq "$($D start -a cb)" 2 "cb after the dockerd restart (its /kept from the first run is still there)"

step "2. thinsnap serve killed -9 while dockerd runs, then restarted: Docker carries on"
$D run -d --network none --name cc tsbox sleep 100000 >/dev/null || fail "docker run -d cc"
kill -9 "$PLUGIN_PID"
wait "$PLUGIN_PID" 2>/dev/null
PLUGIN_PID=""
start_plugin "$R"
check_eq "$($D exec cc cat /opt/app/README)" "hello from layer 2" "running cc after the restart"
check_eq "$($D run --rm --network none tsbox echo alive)" alive "a new container after the restart"
run $D stop -t 1 cc
run $D rm cc
run ts pool check

step "3. killed -9 in the middle of docker create, restarted at once"
$D create --network none --name ce tsbox true >create.out 2>&1 &
CREATE=$!
sleep 0.3
kill -9 "$PLUGIN_PID"
wait "$PLUGIN_PID" 2>/dev/null
PLUGIN_PID=""
start_plugin "$R"
if wait "$CREATE"; then
  echo "docker create finished after the restart"
  run $D start -a ce
  run $D rm ce
else
  echo "docker create failed across the kill: $(cat create.out)"
fi
run ts pool check
check_eq "$($D run --rm --network none tsbox echo alive)" alive "a container after the mid-request kill"
run $D rm cb

step "4. a hostile layer in docker load is refused with the entry named, nothing escapes"
TOOL=$(find / /tmp -xdev -name vm_tar_tool -type f 2>/dev/null | head -n1)
[ -x "$TOOL" ] || fail "vm_tar_tool not included"
mkdir -p /tmp/hostile /tmp/canary
"$TOOL" hostile /tmp/hostile >/dev/null || fail "vm_tar_tool hostile"
build_image /tmp/evil tsevil:latest /tmp/hostile/01-dotdot.tar
if $D load -q -i /tmp/evil/image.tar >load.out 2>&1; then
  cat load.out
  fail "docker load of a hostile layer succeeded"
fi
cat load.out
grep -q 'tmp/canary/evil' load.out || fail "the refusal does not name the entry"
[ -e /tmp/canary/evil ] && fail "the hostile entry escaped to /tmp/canary/evil"
$D image inspect tsevil >/dev/null 2>&1 && fail "the hostile image exists"
check_eq "$(ts ls | wc -l)" "$BASE_DEVICES" "devices after the refused load"

step "5. clean up; the pool is consistent"
run $D rmi tsbox
stop_dockerd
stop_plugin
check_eq "$(ts ls | wc -l)" "$EMPTY" "devices left after rmi"
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "docker faults: ok"
