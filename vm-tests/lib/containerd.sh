# Guest helpers for scenarios and benchmarks that run Debian's containerd in the VM. Inside the
# guest this file is /vm/lib/containerd.sh; source it after /vm/lib/common.sh:
# shellcheck shell=sh
#   . /vm/lib/common.sh
#   . /vm/lib/containerd.sh
# POSIX sh (dash). The scenario's VM-Args must bring the binaries in, e.g.
#   --mem 3072 --include /usr/bin/containerd --include /usr/bin/ctr
#   --include /usr/bin/containerd-shim-runc-v2 --include /usr/sbin/runc
#
# containerd runs with its root under CTD_DIR (default /tmp/ctd, the guest's tmpfs), its state in
# /run/containerd and its socket at CTD_SOCK, and always knows the thinsnap proxy plugin:
#   [proxy_plugins.thinsnap] type = "snapshot" address = "/run/thinsnap/containerd.sock"
# `thinsnap serve` is started and stopped with ts_serve_start / ts_serve_stop.

CTD_DIR=${CTD_DIR:-/tmp/ctd}
CTD_SOCK=${CTD_SOCK:-/run/containerd/containerd.sock}
CTD_NS=${CTD_NS:-thinsnap-test}
CTD_CONFIG=$CTD_DIR/config.toml
CTD_LOG=$CTD_DIR/containerd.log
TS_SOCK=${TS_SOCK:-/run/thinsnap/containerd.sock}
# Plugins a test VM has no use for (and the CRI plugin, whose start costs seconds under TCG).
CTD_DISABLED=${CTD_DISABLED:-'"io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"'}
CTD_PID=""
TS_SERVE_PID=""

# cctr ARGS...: ctr against the test's containerd and namespace.
cctr() {
  ctr -a "$CTD_SOCK" -n "$CTD_NS" "$@"
}

# ctd_require PROGRAM...: fails unless every PROGRAM is in the VM (containers need
# containerd-shim-runc-v2 and runc too).
ctd_require() {
  for _b in "$@"; do
    command -v "$_b" >/dev/null || fail "$_b is not in the VM (VM-Args --include it)"
  done
}

# ctd_prepare_host: what containerd and runc need from the guest: cgroup2, their directories.
ctd_prepare_host() {
  if ! grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts; then
    mkdir -p /sys/fs/cgroup
    mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2 on /sys/fs/cgroup"
  fi
  ctd_require containerd ctr
  mkdir -p "$CTD_DIR" /run/containerd "$(dirname "$TS_SOCK")"
}

# ctd_write_config [TOML]: the config file; TOML (tables only) is appended as it is.
ctd_write_config() {
  mkdir -p "$CTD_DIR"
  cat >"$CTD_CONFIG" <<EOF
version = 2
root = "$CTD_DIR/root"
state = "/run/containerd"
disabled_plugins = [$CTD_DISABLED]

[grpc]
  address = "$CTD_SOCK"

[proxy_plugins.thinsnap]
  type = "snapshot"
  address = "$TS_SOCK"
EOF
  [ $# -eq 0 ] || printf '\n%s\n' "$1" >>"$CTD_CONFIG"
}

# ctd_start [TOML]: writes the config (unless ctd_write_config already did and no TOML is
# given), starts containerd in the background and waits until it answers (60 s).
ctd_start() {
  ctd_prepare_host
  if [ $# -gt 0 ] || [ ! -e "$CTD_CONFIG" ]; then ctd_write_config "$@"; fi
  echo "+ containerd --config $CTD_CONFIG"
  containerd --config "$CTD_CONFIG" >>"$CTD_LOG" 2>&1 &
  CTD_PID=$!
  _n=0
  until [ -S "$CTD_SOCK" ] && ctr -a "$CTD_SOCK" version >/dev/null 2>&1; do
    if ! kill -0 "$CTD_PID" 2>/dev/null; then
      tail -n 30 "$CTD_LOG" >&2
      CTD_PID=""
      fail "containerd exited while starting (log above)"
    fi
    _n=$((_n + 1))
    [ $_n -le 600 ] || { tail -n 30 "$CTD_LOG" >&2; fail "containerd did not answer in 60 s"; }
    sleep 0.1
  done
  echo "containerd $(ctr -a "$CTD_SOCK" version | awk '/Version:/ { v = $2 } END { print v }') up (pid $CTD_PID)"
}

# ctd_stop: SIGTERM, then wait up to 30 s for containerd to exit; fails if it does not.
ctd_stop() {
  [ -n "$CTD_PID" ] || return 0
  kill -TERM "$CTD_PID" 2>/dev/null
  _n=0
  while kill -0 "$CTD_PID" 2>/dev/null; do
    _n=$((_n + 1))
    if [ $_n -gt 300 ]; then
      kill -KILL "$CTD_PID" 2>/dev/null
      CTD_PID=""
      fail "containerd did not exit within 30 s of SIGTERM"
    fi
    sleep 0.1
  done
  wait "$CTD_PID" 2>/dev/null
  CTD_PID=""
}

# ctd_wait_snapshotter NAME [SECONDS]: until containerd reaches snapshotter NAME (default 30 s).
# After a proxy plugin's server restarts, containerd redials with a backoff of up to 3 s and
# fails requests at once meanwhile.
ctd_wait_snapshotter() {
  _n=$((${2:-30} * 10))
  until cctr snapshots --snapshotter "$1" ls >/dev/null 2>&1; do
    _n=$((_n - 1))
    [ $_n -gt 0 ] || fail "containerd did not reach snapshotter $1 in ${2:-30} s"
    sleep 0.1
  done
}

# ctd_log_errors: containerd's error lines (for a failure's context).
ctd_log_errors() {
  grep 'level=error' "$CTD_LOG" | tail -n "${1:-10}"
}

# wait_for_socket PATH [SECONDS]: until PATH is a unix socket (default 30 s).
wait_for_socket() {
  _n=$((${2:-30} * 10))
  while [ ! -S "$1" ] && [ "$_n" -gt 0 ]; do
    sleep 0.1
    _n=$((_n - 1))
  done
  [ -S "$1" ]
}

# ts_serve_start ROOT [SERVE ARGS...]: `thinsnap --root ROOT serve --address $TS_SOCK` in the
# background (output appended to ROOT.serve.log); waits (60 s) for a socket at the path that is
# not the one that was there before (a stale socket of a killed server is replaced).
ts_serve_start() {
  _root=$1
  shift
  TS_SERVE_LOG=$_root.serve.log
  _old=$(stat -c %i "$TS_SOCK" 2>/dev/null || echo none)
  echo "+ thinsnap --root $_root serve --address $TS_SOCK $*"
  thinsnap --root "$_root" serve --address "$TS_SOCK" "$@" >>"$TS_SERVE_LOG" 2>&1 &
  TS_SERVE_PID=$!
  _n=0
  until [ -S "$TS_SOCK" ] && [ "$(stat -c %i "$TS_SOCK" 2>/dev/null)" != "$_old" ]; do
    if ! kill -0 "$TS_SERVE_PID" 2>/dev/null; then
      tail -n 20 "$TS_SERVE_LOG" >&2
      TS_SERVE_PID=""
      fail "thinsnap serve exited while starting (log above)"
    fi
    _n=$((_n + 1))
    [ $_n -le 600 ] || { tail -n 20 "$TS_SERVE_LOG" >&2; fail "thinsnap serve: no socket in 60 s"; }
    sleep 0.1
  done
}

# ts_serve_stop: SIGTERM; the daemon must exit 0 within 10 s.
ts_serve_stop() {
  [ -n "$TS_SERVE_PID" ] || return 0
  kill -TERM "$TS_SERVE_PID" 2>/dev/null
  _n=0
  while kill -0 "$TS_SERVE_PID" 2>/dev/null && [ $_n -lt 100 ]; do
    sleep 0.1
    _n=$((_n + 1))
  done
  if kill -0 "$TS_SERVE_PID" 2>/dev/null; then
    kill -KILL "$TS_SERVE_PID" 2>/dev/null
    wait "$TS_SERVE_PID" 2>/dev/null
    TS_SERVE_PID=""
    fail "thinsnap serve did not exit within 10 s of SIGTERM"
  fi
  wait "$TS_SERVE_PID"
  _rc=$?
  TS_SERVE_PID=""
  [ $_rc -eq 0 ] || { tail -n 20 "$TS_SERVE_LOG" >&2; fail "thinsnap serve exited $_rc after SIGTERM"; }
}

# ctd_cleanup: for an EXIT trap: stops containerd and thinsnap serve if they still run (no
# checks: the scenario has already failed or passed).
ctd_cleanup() {
  [ -z "$CTD_PID" ] || { kill -TERM "$CTD_PID" 2>/dev/null; wait "$CTD_PID" 2>/dev/null; }
  [ -z "$TS_SERVE_PID" ] || { kill -TERM "$TS_SERVE_PID" 2>/dev/null; wait "$TS_SERVE_PID" 2>/dev/null; }
  CTD_PID="" TS_SERVE_PID=""
}

# blob_put DIR FILE MEDIATYPE: moves FILE into DIR/blobs/sha256/ under its digest and prints
# its OCI descriptor (JSON).
blob_put() {
  _sha=$(sha256sum "$2" | cut -d' ' -f1)
  _size=$(wc -c <"$2")
  mkdir -p "$1/blobs/sha256"
  mv "$2" "$1/blobs/sha256/$_sha"
  printf '{"mediaType":"%s","digest":"sha256:%s","size":%d}' "$3" "$_sha" "$_size"
}

# ctd_make_image OUT.tar NAME: an OCI image layout archive of one uncompressed layer holding the
# guest's static busybox as /bin/busybox with a link per applet (/bin/sh, /bin/cat, ...), named
# NAME (a full reference, e.g. thinsnap.test/busybox:1) for `ctr image import`. No network: the
# blobs, manifest, config and index.json are written here.
ctd_make_image() {
  _out=$1 _name=$2
  _w=$(mktemp -d)
  mkdir -p "$_w/rootfs/bin" "$_w/rootfs/etc" "$_w/rootfs/tmp" "$_w/rootfs/root" "$_w/oci"
  chmod 1777 "$_w/rootfs/tmp"
  _bb=$(command -v busybox)
  cp "$_bb" "$_w/rootfs/bin/busybox"
  for _a in $(busybox --list); do
    [ "$_a" = busybox ] || ln -s busybox "$_w/rootfs/bin/$_a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$_w/rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$_w/rootfs/etc/group"
  tar -C "$_w/rootfs" -cf "$_w/layer.tar" . || fail "tar the image layer"
  _diff=$(sha256sum "$_w/layer.tar" | cut -d' ' -f1)
  _layer=$(blob_put "$_w/oci" "$_w/layer.tar" application/vnd.oci.image.layer.v1.tar)
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"thinsnap vm-tests ctd_make_image"}]}' \
    "$_diff" >"$_w/config.json"
  _config=$(blob_put "$_w/oci" "$_w/config.json" application/vnd.oci.image.config.v1+json)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
    "$_config" "$_layer" >"$_w/manifest.json"
  _manifest=$(blob_put "$_w/oci" "$_w/manifest.json" application/vnd.oci.image.manifest.v1+json)
  # The descriptor with a platform and the names: containerd's full name, OCI's tag.
  printf '{"schemaVersion":2,"manifests":[%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "${_manifest%\}}" "$_name" "${_name##*:}" >"$_w/oci/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$_w/oci/oci-layout"
  tar -C "$_w/oci" -cf "$_out" oci-layout index.json blobs || fail "tar the image archive"
  rm -rf "$_w"
}
