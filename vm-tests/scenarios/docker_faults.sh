#!/bin/sh
# Description: dockerd on thinsnap's plugin through faults: a dockerd restart keeps a stopped container's files; thinsnap serve kill -9 (idle and in the middle of docker create) and restart while dockerd runs, Docker carries on; hostile layers in docker load (.. traversal, absolute symlink escape) refused with the entry named, nothing escapes; a full pool makes docker run fail with thinsnap's one-line reason and rm brings it back; thinsnap ls, pool check, thin_check clean
# VM-Args: --mem 4096 --timeout 880 --include /usr/sbin/dockerd --include /usr/bin/docker --include /usr/bin/containerd --include /usr/bin/containerd-shim-runc-v2 --include /usr/sbin/runc --include @BUILD@/tests/vm_tar_tool
set -u
. /vm/lib/common.sh
. /vm/lib/docker.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }
trap stop_all EXIT
D=dk
# dk ARGS...: docker, and how long it took on fd 3, the console (the scenario's time goes to
# dockerd), so neither a $(...) nor a 2>&1 of the caller captures it.
exec 3>&1
dk() {
  _t=$(ms_now)
  docker "$@"
  _rc=$?
  echo "    [docker $1: $(($(ms_now) - _t)) ms]" >&3
  return $_rc
}
T0=$(ms_now)
elapsed() { echo "    ($(($(ms_now) - T0)) ms since the start)"; }
# Arguments (for a quick rerun by hand): the case numbers to run; default all.
CASES=" ${*:-1 2 3 4 5} "
want() { case $CASES in *" $1 "*) return 0 ;; esac; return 1; }

# kill_plugin: SIGKILL to thinsnap serve, reaped.
kill_plugin() {
  kill -9 "$PLUGIN_PID"
  wait "$PLUGIN_PID" 2>/dev/null
  PLUGIN_PID=""
}

# A 1 GiB pool keeps the full-pool case (step 5) quick: the filler writes ~0.9 GiB.
docker_prepare
run ts pool create --loopback --data-size 1G --metadata-size 64M --base-size 256M
start_plugin "$R"
start_dockerd --storage-driver thinsnap
EMPTY=$(ts ls | wc -l)
build_image /tmp/img tsbox:latest
run $D load -q -i /tmp/img/image.tar
BASE_DEVICES=$(ts ls | wc -l)
elapsed

if want 1; then
  step "1. dockerd restarted: a stopped container keeps its files"
  check_eq "$($D run --network none --name cb tsbox sh -c 'echo kept >> /kept; wc -l < /kept')" 1 "first run of cb"
  stop_dockerd
  start_dockerd --storage-driver thinsnap
  check_eq "$($D start -a cb)" 2 "cb after the dockerd restart (its /kept from the first run is still there)"
  run $D rm cb
  elapsed
fi

if want 2; then
  step "2. thinsnap serve killed -9 while dockerd runs, then restarted: Docker carries on"
  $D run -d --network none --name cc tsbox sleep 100000 >/dev/null || fail "docker run -d cc"
  run $D exec cc sh -c 'echo before the kill > /state'
  kill_plugin
  start_plugin "$R"
  check_eq "$($D run --rm --network none tsbox echo alive)" alive "a new container after the restart"
  check_eq "$($D exec cc cat /state)" "before the kill" "cc's file after the restart"
  run $D restart -t 1 cc
  check_eq "$($D exec cc cat /state)" "before the kill" "cc's file after docker restart (Put and Get by the new plugin)"
  run $D rm -f cc
  run ts pool check
  elapsed
fi

if want 3; then
  step "3. killed -9 in the middle of docker create, restarted at once"
  $D create --network none --name ce tsbox cat /opt/app/README >create.out 2>&1 &
  CREATE=$!
  sleep 0.5
  kill_plugin
  start_plugin "$R"
  if wait "$CREATE"; then
    echo "docker create finished across the restart"
    check_eq "$($D start -a ce)" "hello from layer 2" "ce made across the kill"
    run $D rm ce
  else
    echo "docker create failed across the kill (allowed; nothing may be left): $(cat create.out)"
  fi
  run ts pool check
  check_eq "$($D run --rm --network none tsbox echo alive)" alive "a container after the mid-request kill"
  check_eq "$(ts ls | wc -l)" "$BASE_DEVICES" "devices once the containers are gone"
  elapsed
fi

if want 4; then
  step "4. hostile layers in docker load are refused with the entry named, nothing escapes"
  TOOL=$(find / /tmp -xdev -name vm_tar_tool -type f 2>/dev/null | head -n1)
  [ -x "$TOOL" ] || fail "vm_tar_tool not included"
  mkdir -p /tmp/hostile /tmp/canary
  echo "do not touch" >/tmp/canary/secret
  CANARY=$(find /tmp/canary -exec stat -c '%n %f %s %h %Y' {} + | sha256sum)
  "$TOOL" hostile /tmp/hostile >/dev/null || fail "vm_tar_tool hostile"
  for c in "01-dotdot tmp/canary/evil" "04-symlink-escape esc/evil"; do
    tar=${c% *}
    entry=${c#* }
    build_image "/tmp/evil-$tar" "tsevil-$tar:latest" "/tmp/hostile/$tar.tar"
    if $D load -q -i "/tmp/evil-$tar/image.tar" >load.out 2>&1; then
      cat load.out
      fail "docker load of $tar succeeded"
    fi
    cat load.out
    check_eq "$(wc -l <load.out)" 1 "lines of docker's error for $tar"
    grep -q "$entry" load.out || fail "docker's error for $tar does not name the entry $entry"
    $D image inspect "tsevil-$tar" >/dev/null 2>&1 && fail "the image of $tar exists"
  done
  check_eq "$(find /tmp/canary -exec stat -c '%n %f %s %h %Y' {} + | sha256sum)" "$CANARY" "the canary directory"
  check_eq "$(ts ls | wc -l)" "$BASE_DEVICES" "devices after the refused loads"
  run ts pool check
  elapsed
fi

if want 5; then
  step "5. a full pool: docker run fails with thinsnap's one-line reason; rm brings it back"
  run ts container create filler --from base --size 1G
  M=$(ts mount filler) || fail "mount filler"
  S=$(ts --json pool status) || fail "pool status"
  USED=$(json_field "$S" DataSpaceUsed)
  TOTAL=$(json_field "$S" DataSpaceTotal)
  FILL_MB=$(((TOTAL * 91 / 100 - USED) / 1048576))
  check_gt "$FILL_MB" 0 "MiB to write to fill the pool to 91% (ext4 takes ~5% more)"
  run dd if=/dev/zero of="$M/fill" bs=1M count="$FILL_MB" conv=fsync status=none
  ts pool status | grep -i 'data'
  if $D run --rm --network none tsbox echo alive >run.out 2>&1; then
    cat run.out
    fail "docker run on a full pool succeeded"
  fi
  cat run.out
  # One line from thinsnap after Docker's prefix (the CLI adds its own "See 'docker run --help'.").
  grep -q "^docker: Error response from daemon: GraphDriver.CreateReadWrite: layer create .*: pool data space below --min-free-space 10%: .* used, .* free.$" run.out ||
    fail "docker's error is not thinsnap's one line saying the pool is full"
  check_eq "$(ts ls | wc -l)" "$((BASE_DEVICES + 1))" "devices after the refused run (the filler only)"
  run ts unmount filler
  run ts rm filler
  check_eq "$($D run --rm --network none tsbox echo alive)" alive "docker run once the filler is gone"
  elapsed
fi

step "6. clean up; the pool is consistent"
run $D rmi tsbox
stop_dockerd
stop_plugin
check_eq "$(ts ls | wc -l)" "$EMPTY" "devices left after rmi"
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
elapsed
echo "docker faults: ok"
