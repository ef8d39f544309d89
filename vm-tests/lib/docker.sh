# Helpers for the Docker scenarios (dockerd over thinsnap's graph driver plugin). Inside the
# guest this file is /vm/lib/docker.sh; source it after /vm/lib/common.sh:
# shellcheck shell=sh
#   . /vm/lib/docker.sh
# The scenario's VM-Args include dockerd, docker, containerd, containerd-shim-runc-v2 and runc
# (DOCKER_VM_ARGS in each scenario), and --mem 4096.
# Measured in this VM: dockerd needs DOCKER_RAMDISK=true (the root is an initramfs: runc cannot
# pivot_root), --bridge=none (no bridge module) and no iptables; containers run --network none.

DOCKER_LOG=/tmp/dockerd.log
PLUGIN_LOG=/tmp/thinsnap-serve.log
DOCKERD_PID=""
PLUGIN_PID=""
CONTAINERD_PID=""

# docker_prepare: cgroup2 for runc, and dockerd's directories.
docker_prepare() {
  mkdir -p /sys/fs/cgroup /etc/docker /run/docker/plugins
  grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup ||
    fail "mount cgroup2"
  for t in dockerd docker containerd containerd-shim-runc-v2 runc; do
    command -v "$t" >/dev/null || fail "$t is not in the VM (VM-Args --include)"
  done
}

# wait_socket PATH SECONDS: until PATH is a socket.
wait_socket() {
  _n=$(($2 * 10))
  while [ ! -S "$1" ] && [ "$_n" -gt 0 ]; do
    sleep 0.1
    _n=$((_n - 1))
  done
  [ -S "$1" ]
}

# start_plugin ROOT [NAME]: `thinsnap serve -v --docker-plugin NAME` in the background (-v: its
# log has every request, which stop_all shows after a failure).
start_plugin() {
  echo "+ thinsnap --root $1 serve -v --address '' --docker-plugin ${2:-thinsnap} &"
  thinsnap --root "$1" serve -v --address "" --docker-plugin "${2:-thinsnap}" >>"$PLUGIN_LOG" 2>&1 &
  PLUGIN_PID=$!
  wait_socket "/run/docker/plugins/${2:-thinsnap}.sock" 30 || {
    cat "$PLUGIN_LOG"
    fail "the plugin socket did not appear"
  }
}

# stop_plugin: SIGTERM, and it must exit 0.
stop_plugin() {
  [ -n "$PLUGIN_PID" ] || return 0
  kill -TERM "$PLUGIN_PID"
  wait "$PLUGIN_PID" || fail "thinsnap serve exited with status $? on SIGTERM"
  PLUGIN_PID=""
}

# start_containerd: dockerd's containerd, started by us: dockerd gives the one it starts itself
# only a few seconds, which a loaded host under TCG does not always meet.
start_containerd() {
  [ -z "$CONTAINERD_PID" ] || return 0
  containerd >>/tmp/containerd.log 2>&1 &
  CONTAINERD_PID=$!
  wait_socket /run/containerd/containerd.sock 120 || {
    tail -n 20 /tmp/containerd.log
    fail "containerd did not come up"
  }
}

# start_dockerd ARGS...: dockerd in the background; waits until `docker info` answers.
start_dockerd() {
  start_containerd
  echo "+ dockerd --experimental --bridge=none --iptables=false --ip6tables=false $* &"
  DOCKER_RAMDISK=true dockerd --experimental --bridge=none --iptables=false --ip6tables=false \
    --containerd /run/containerd/containerd.sock "$@" >>"$DOCKER_LOG" 2>&1 &
  DOCKERD_PID=$!
  _n=600
  until docker info >/dev/null 2>&1; do
    _n=$((_n - 1))
    if [ "$_n" -le 0 ] || ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
      tail -n 30 "$DOCKER_LOG"
      fail "dockerd did not come up"
    fi
    sleep 0.5
  done
}

# stop_dockerd: SIGTERM and wait (containerd stays for the next dockerd).
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || return 0
  kill -TERM "$DOCKERD_PID"
  wait "$DOCKERD_PID" || true
  DOCKERD_PID=""
}

# stop_all: what a scenario's exit trap calls; after a failure it shows the daemons' logs.
stop_all() {
  _status=$?
  if [ "$_status" -ne 0 ]; then
    echo "--- the plugin's log ($PLUGIN_LOG)"
    tail -n 40 "$PLUGIN_LOG" 2>/dev/null
    echo "--- dockerd's log ($DOCKER_LOG)"
    grep -E 'level=(error|warning)' "$DOCKER_LOG" 2>/dev/null | tail -n 20
  fi
  stop_dockerd
  [ -z "$PLUGIN_PID" ] || kill -TERM "$PLUGIN_PID" 2>/dev/null
  [ -z "$CONTAINERD_PID" ] || kill -TERM "$CONTAINERD_PID" 2>/dev/null
}

# sha256_of FILE: "sha256:<hex>".
sha256_of() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

# build_image DIR TAG [EXTRA_LAYER_TAR]: a docker-save tarball DIR/image.tar of busybox-static
# in two layers (the second deletes /etc/motd with a whiteout and adds /opt/app/README), and a
# third layer when EXTRA_LAYER_TAR is given.
build_image() {
  _d=$1
  mkdir -p "$_d/rootfs/bin" "$_d/rootfs/etc" "$_d/rootfs/tmp" "$_d/rootfs/root" \
    "$_d/l2/etc" "$_d/l2/opt/app" "$_d/img/l1" "$_d/img/l2"
  cp "$(command -v busybox)" "$_d/rootfs/bin/busybox"
  for a in sh ls cat echo mkdir rm cp mv df sleep true head stat wc; do
    ln -sf busybox "$_d/rootfs/bin/$a"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$_d/rootfs/etc/passwd"
  echo 'to be deleted' >"$_d/rootfs/etc/motd"
  echo 'hello from layer 2' >"$_d/l2/opt/app/README"
  : >"$_d/l2/etc/.wh.motd"
  (cd "$_d/rootfs" && tar -cf "$_d/img/l1/layer.tar" .) || fail "tar layer 1"
  (cd "$_d/l2" && tar -cf "$_d/img/l2/layer.tar" .) || fail "tar layer 2"
  _layers='"l1/layer.tar","l2/layer.tar"'
  _ids="\"$(sha256_of "$_d/img/l1/layer.tar")\",\"$(sha256_of "$_d/img/l2/layer.tar")\""
  if [ $# -ge 3 ]; then
    mkdir -p "$_d/img/l3"
    cp "$3" "$_d/img/l3/layer.tar"
    _layers="$_layers,\"l3/layer.tar\""
    _ids="$_ids,\"$(sha256_of "$_d/img/l3/layer.tar")\""
  fi
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$_ids" >"$_d/img/config.json"
  printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":[%s]}]' "$2" "$_layers" \
    >"$_d/img/manifest.json"
  (cd "$_d/img" && tar -cf "$_d/image.tar" manifest.json config.json l*) || fail "tar image"
}

# json_field JSON KEY: the number or string value of "KEY" in (pretty-printed) JSON.
json_field() {
  echo "$1" | sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n1
}
