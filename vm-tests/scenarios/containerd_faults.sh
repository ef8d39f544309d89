#!/bin/sh
# Description: thinsnap serve behind containerd killed in the middle of Prepare, Remove (at every transaction fault point) and Commit (kill -9 during a stream of commits), restarted on the same root: containerd's snapshots are all there, no leaked device after GC, the suite's Basic test and pool check pass; socket 0660 root, stale socket replaced, non-socket file and live socket refused, SIGTERM exits 0
# VM-Args: --mem 3072 --timeout 840 --include /usr/bin/containerd --include /usr/bin/ctr --include @BUILD@/vm-tests/containerd-suite.test
# Expect-kernel: device-mapper: thin: Deletion of thin device [0-9]+ failed
# Expect-kernel: device-mapper: thin: Creation of new (snapshot|thinly-provisioned device).* failed
# Expect-kernel: device-mapper: thin: Creation of (new snapshot|thin device) [0-9]+ failed
set -u
# shellcheck disable=SC1091 # the harness provides them inside the guest
. /vm/lib/common.sh
# shellcheck disable=SC1091
. /vm/lib/containerd.sh

R=/tmp/ts
# --include puts the suite's binary at its host path.
SUITE=$(find / /tmp -xdev -name containerd-suite.test -type f 2>/dev/null | head -n1)
POINTS="after-intent after-kernel-op after-set-transaction-id after-commit"
GC_TOML='[plugins."io.containerd.gc.v1.scheduler"]
  deletion_threshold = 0
  mutation_threshold = 1000000
  schedule_delay = "0s"
  startup_delay = "1h"'
ts() { thinsnap --root "$R" "$@"; }
snap() { cctr snapshots --snapshotter thinsnap "$@"; }
trap ctd_cleanup EXIT

# ctd_keys: the snapshot keys containerd lists for thinsnap, sorted.
ctd_keys() {
  snap ls | awk 'NR > 1 { print $1 }' | sort
}

# ts_ctd_devices: how many of thinsnap's devices are containerd snapshots (ctd-*, not ctd-root).
ts_ctd_devices() {
  ts ls | awk 'NR > 1 && $1 ~ /^ctd-/ && $1 != "ctd-root"' | wc -l
}

# check_consistent WHAT: every snapshot containerd lists is served by thinsnap (its usage comes
# from the snapshotter itself), and the pool is clean.
check_consistent() {
  ctd_wait_snapshotter thinsnap
  snap ls >/tmp/keys.out 2>&1 || { cat /tmp/keys.out; fail "$1: ctr snapshots ls failed"; }
  for _k in $(ctd_keys); do
    snap usage "$_k" >/dev/null 2>&1 || fail "$1: containerd lists '$_k' but thinsnap does not serve it"
  done
  ts pool check >/tmp/check.out 2>&1 || { cat /tmp/check.out; fail "$1: pool check failed"; }
  echo "$1: $(ctd_keys | wc -l) snapshots containerd knows are served; pool check clean"
}

# serve_faulted POINT CMD...: restarts serve with THINSNAP_FAULT=POINT, runs CMD (the server must
# die in it with the fault's status 137), then restarts serve normally. CMD's own status is
# shown, not judged (containerd's GC may report the lost server or not).
serve_faulted() {
  _point=$1
  shift
  ts_serve_stop
  THINSNAP_FAULT=$_point ts_serve_start "$R"
  ctd_wait_snapshotter thinsnap
  echo "+ $*"
  "$@"
  echo "(status $?)"
  _n=0
  while kill -0 "$TS_SERVE_PID" 2>/dev/null; do
    _n=$((_n + 1))
    [ $_n -le 300 ] || fail "thinsnap serve did not die at fault point $_point"
    sleep 0.1
  done
  wait "$TS_SERVE_PID"
  _rc=$?
  TS_SERVE_PID=""
  check_eq "$_rc" 137 "thinsnap serve's exit status at fault point $_point"
  ts_serve_start "$R"
}

# serve_refused WHAT: a second `thinsnap serve` on $TS_SOCK must fail at once (status 1) and say
# why; a server that started serving instead is stopped after 20 s and fails the check.
serve_refused() {
  timeout 20 thinsnap --root "$R" serve --address "$TS_SOCK" >/tmp/refused.out 2>&1
  _rc=$?
  cat /tmp/refused.out
  check_eq "$_rc" 1 "thinsnap serve on $1: exit status"
  [ -s /tmp/refused.out ] || fail "thinsnap serve on $1 failed without a message"
}

step "a loopback pool, thinsnap serve, containerd"
run ts pool create --loopback --data-size 1G --metadata-size 32M --base-size 64M
ts_serve_start "$R"
check_eq "$(stat -c '%a %u %g' "$TS_SOCK")" "660 0 0" "socket mode and owner"
# containerd collects garbage only when told to (--sync deletes), so that a collection runs
# where the test wants the server to die in it.
ctd_start "$GC_TOML"
ctd_wait_snapshotter thinsnap
run snap prepare base-active
run snap commit base base-active

step "Prepare killed at each fault point"
for p in $POINTS; do
  serve_faulted "$p" snap prepare "prep-$p" base
  check_consistent "prepare at $p"
  # The server died before it answered: for containerd the Prepare failed.
  case $(ctd_keys | tr '\n' ' ') in
    *"prep-$p "*) fail "containerd lists prep-$p although its Prepare failed" ;;
  esac
done

step "Remove killed at each fault point"
# containerd's Remove drops only its own record; the snapshotter deletes in containerd's garbage
# collection, which a lease's --sync delete runs and waits for.
rm_and_gc() {
  snap rm "$1" && cctr leases rm --sync "$2"
}
for p in $POINTS; do
  run snap prepare "rm-$p" base
  run cctr leases create --id "gc-$p"
  serve_faulted "$p" rm_and_gc "rm-$p" "gc-$p"
  check_consistent "remove at $p"
done

step "Commit: kill -9 of serve while a stream of commits runs"
for i in 1 2 3 4 5 6 7 8; do run snap prepare "act-$i" base; done
(for i in 1 2 3 4 5 6 7 8; do snap commit "done-$i" "act-$i" >/dev/null 2>&1; done) &
loop=$!
# The kill lands once the first commit is done, with the next ones on their way.
n=0
until snap ls 2>/dev/null | grep -q '^done-1 '; do
  n=$((n + 1))
  [ $n -le 300 ] || fail "the first commit did not happen in 30 s"
  sleep 0.1
done
echo "+ kill -9 thinsnap serve (pid $TS_SERVE_PID)"
kill -KILL "$TS_SERVE_PID"
wait "$TS_SERVE_PID" 2>/dev/null
TS_SERVE_PID=""
wait "$loop"
[ -S "$TS_SOCK" ] || fail "the killed server's socket is gone (the stale-socket check needs it)"
step "restart on the stale socket"
ts_serve_start "$R"
ctd_wait_snapshotter thinsnap
check_consistent "commit stream killed"
snap ls
committed=$(ctd_keys | grep -c '^done-')
echo "containerd saw $committed of 8 commits succeed"
[ "$committed" -lt 8 ] || echo "note: every commit finished before the kill"

step "GC: no device thinsnap keeps that containerd does not know"
for k in $(ctd_keys); do
  case $k in act-* | prep-* | rm-*) snap rm "$k" >/dev/null 2>&1 ;; esac
done
# A removal marks the snapshotter for collection (containerd collects only marked ones).
run snap prepare gc-trigger base
run snap rm gc-trigger
run cctr leases create --id gc-final
run cctr leases rm --sync gc-final
known=$(ctd_keys | wc -l)
ts ls
check_eq "$(ts_ctd_devices)" "$known" "thinsnap's containerd devices vs containerd's snapshots"
check_consistent "after GC"

step "the suite's Basic test on the same root, through the same server"
[ -x "${SUITE:-/nonexistent}" ] || fail "containerd-suite.test not built (scripts/install-deps, then build the tree)"
THINSNAP_SUITE_ADDRESS=$TS_SOCK "$SUITE" -test.root -test.v -test.run 'TestThinsnapSnapshotter/Basic$' \
  >/tmp/basic.out 2>&1
rc=$?
grep -E -e '--- (PASS|FAIL|SKIP)' -e '^(PASS|FAIL|ok)' /tmp/basic.out
[ $rc -eq 0 ] || { tail -n 40 /tmp/basic.out; fail "the suite's Basic test exited $rc"; }
check_eq "$(grep -c -- '--- PASS: TestThinsnapSnapshotter/Basic' /tmp/basic.out)" 1 "Basic passed"
check_consistent "after Basic"

step "socket path checks"
# A second server on the same (live) socket is refused; the first keeps serving.
serve_refused "a live socket"
[ -S "$TS_SOCK" ] || fail "the refused second server removed the live socket"
run snap ls
ctd_stop
ts_serve_stop
[ ! -e "$TS_SOCK" ] || fail "SIGTERM left the socket file behind"
echo "not a socket" >"$TS_SOCK"
serve_refused "a regular file"
check_eq "$(cat "$TS_SOCK")" "not a socket" "the regular file at the socket path"
rm -f "$TS_SOCK"

step "SIGTERM exits 0 within seconds, also with requests in flight"
ts_serve_start "$R"
ctd_start
jobs=""
for i in 1 2 3 4; do
  snap prepare "term-$i" base >/dev/null 2>&1 &
  jobs="$jobs $!"
done
sleep 1
t0=$(ms_now)
ts_serve_stop
echo "serve exited 0 in $(($(ms_now) - t0)) ms after SIGTERM"
for j in $jobs; do wait "$j"; done
ctd_stop
ts_serve_start "$R"
ctd_start
check_consistent "after SIGTERM with requests in flight"
ctd_stop
ts_serve_stop

step "pool check and thin_check"
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "containerd_faults: all checks passed"
