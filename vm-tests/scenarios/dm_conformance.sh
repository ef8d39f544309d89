#!/bin/sh
# Description: DeviceMapper conformance suite, loop and blockdev tests against the guest's real dm-thin
# VM-Args: --include @BUILD@/tests/device_mapper_conformance_test --include @BUILD@/tests/loop_test --include @BUILD@/tests/blockdev_test --include @BUILD@/tests/thin_status_test --timeout 600
# The suite provokes kernel errors on purpose (EEXIST, ENODATA, EINVAL, EBUSY paths):
# Expect-kernel: device-mapper: ioctl: error adding target to table
# Expect-kernel: device-mapper: thin: Creation of new (thinly-provisioned device with id|snapshot) [0-9]+ .*failed
# Expect-kernel: device-mapper: thin: Deletion of thin device [0-9]+ failed
# Expect-kernel: device-mapper: thin: Failed to change transaction id from 5 to 6
# Expect-kernel: device-mapper: thin: (reserve|release)_metadata_snap message failed
#
# Usage inside the guest: dm_conformance.sh [TEST_BIN_DIR]; without it the binaries are looked up
# where --include put them (the host build directory's tests/).
# shellcheck source=vm-tests/lib/common.sh
. /vm/lib/common.sh

find_bin() {
  if [ -n "${1:-}" ] && [ -x "$1/device_mapper_conformance_test" ]; then
    echo "$1"
    return
  fi
  # /tmp is its own tmpfs in the guest: -xdev alone would not look there.
  _hit=$(find / /tmp -xdev -name device_mapper_conformance_test -type f 2>/dev/null | head -n 1)
  [ -n "$_hit" ] || skip "device_mapper_conformance_test not included (pass --include)"
  dirname "$_hit"
}

BIN=$(find_bin "${1:-}")
export THINSNAP_REAL_DM=1 TMPDIR=/tmp

step "thin-pool target and driver"
grep -q thin-pool /proc/modules || grep -q dm_thin_pool /proc/modules || echo "(dm-thin-pool built in?)"

step "conformance suite against LibDevmapper (THINSNAP_REAL_DM=1)"
t0=$(ms_now)
run "$BIN/device_mapper_conformance_test" --gtest_brief=0
echo "conformance: $(($(ms_now) - t0)) ms"

for t in loop_test blockdev_test thin_status_test; do
  if [ -x "$BIN/$t" ]; then
    step "$t"
    t0=$(ms_now)
    run "$BIN/$t"
    echo "$t: $(($(ms_now) - t0)) ms"
  fi
done
