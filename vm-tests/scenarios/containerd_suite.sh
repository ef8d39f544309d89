#!/bin/sh
# Description: containerd's own snapshotter test suite (snapshots/testsuite of containerd 1.6.20, through its proxy gRPC client) against thinsnap serve, one small loopback pool and server per test: its 21 tests ran, 20 passed and Rename was skipped (by the suite itself), none failed, every server stopped by SIGTERM with exit 0 and its pool check clean
# VM-Args: --mem 3072 --cpus 2 --timeout 840 --include @BUILD@/vm-tests/containerd-suite.test
# Expect-kernel: device-mapper: thin: Deletion of thin device [0-9]+ failed
set -u
. /vm/lib/common.sh

suite=${THINSNAP_BUILD_DIR:-}/vm-tests/containerd-suite.test
# --include copies it to the same path in the guest, where /tmp is a tmpfs of its own: look there too.
[ -x "$suite" ] || suite=$(find / /tmp -xdev -name containerd-suite.test -type f 2>/dev/null | head -n1)
if [ -z "$suite" ] || [ ! -x "$suite" ]; then
  skip "containerd-suite.test not built (needs golang-go and golang-github-containerd-containerd-dev)"
fi

step "containerd snapshots/testsuite against thinsnap serve"
out=/tmp/suite.out
# -test.root: without it the suite skips every test and still says PASS.
"$suite" -test.root -test.v -test.timeout 780s >"$out" 2>&1
rc=$?
grep -E -e '--- (PASS|FAIL|SKIP)' -e '^(PASS|FAIL|ok)' -e 'Error|panic' "$out" | head -n 200
passed=$(grep -c -- '--- PASS: TestThinsnapSnapshotter/' "$out")
failed=$(grep -c -- '--- FAIL: TestThinsnapSnapshotter/' "$out")
skipped=$(grep -c -- '--- SKIP: TestThinsnapSnapshotter/' "$out")
echo "containerd suite: $passed passed, $failed failed, $skipped skipped (exit $rc)"
if [ "$rc" != 0 ] || [ "$failed" != 0 ]; then
  echo "--- what the failed tests said"
  grep -E -e '^ +[A-Za-z0-9_]+\.go:[0-9]+:' -e '--- FAIL' -e 'thinsnap serve: ' "$out" |
    grep -v -e 'serving containerd' -e 'stopping on SIGTERM' -e 'serve: stopped' | head -n 300
fi
check_eq "$rc" 0 "suite exit status"
check_eq "$failed" 0 "tests failed"
check_eq "$passed" 20 "tests passed"
check_eq "$skipped" 1 "tests skipped (Rename)"
grep -q -- '^--- PASS: TestThinsnapSnapshotter ' "$out" || fail "the suite as a whole did not pass"
grep -q -- '--- SKIP: TestThinsnapSnapshotter/Rename' "$out" || fail "the skipped test is not Rename"
left=$(dmsetup ls 2>/dev/null | grep -c thinsnap)
check_eq "$left" 0 "device-mapper devices left behind"
echo "containerd_suite: ok"
