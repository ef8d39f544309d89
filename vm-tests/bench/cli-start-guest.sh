#!/bin/sh
# Description: guest half of vm-tests/bench/cli-start.sh (run it through that script).
# Usage: cli-start-guest.sh RUNS EXECBENCH HELLO HELLO_DYNAMIC BUSYBOX
# Times RUNS starts of `thinsnap --version`, the static hello, the same hello linked dynamically
# against glibc and busybox-static `true`,
# interleaved, with execbench (CLOCK_MONOTONIC around posix_spawn + waitpid); prints its lines.
set -eu
# shellcheck disable=SC1091 # the harness provides it inside the guest
. /vm/lib/common.sh

RUNS=$1 EXECBENCH=$2 HELLO=$3 HELLO_DYN=$4 BUSYBOX=$5
THINSNAP=$(command -v thinsnap) || fail "no thinsnap in the VM"
echo "thinsnap: $THINSNAP ($(thinsnap --version)), $(stat -c %s "$THINSNAP") bytes"
run "$EXECBENCH" "$RUNS" "static-hello=$HELLO" "dynamic-hello=$HELLO_DYN" \
  "busybox-true=$BUSYBOX,true" \
  "thinsnap--version=$THINSNAP,--version"
echo "cli-start: done"
