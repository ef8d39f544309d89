#!/bin/sh
# Description: guest half of vm-tests/bench/ops.sh (run it through that script, not directly).
# Usage: ops-guest.sh SCALE COUNT PEERBENCH
#   /dev/nvme0n1 = pool data, /dev/nvme1n1 = pool metadata, /dev/nvme2n1 = ext4 for the root;
#   /dev/nvme3n1 + /dev/nvme4n1: a second pool for the raw-message floor of the scale run.
set -eu
# shellcheck disable=SC1091 # the harness provides it inside the guest
. /vm/lib/common.sh

SCALE=$1 N=$2 PB=$3
R=/state/ts
ts() { thinsnap --root "$R" "$@"; }

run mkfs.ext4 -q -F /dev/nvme2n1
mkdir -p /state
run mount /dev/nvme2n1 /state
run ts pool create --data /dev/nvme0n1 --metadata /dev/nvme1n1 --block-size 64k --base-size 1G \
  --force
run ts layer create L
run ts layer seal L

step "create/remove latency, in-process (engine API) and through the CLI"
run ts bench ops --from L --count "$N" --activate
"$PB" exec cli-create-activate "$N" thinsnap --root $R container create c%d --from L --activate
"$PB" exec cli-remove "$N" thinsnap --root $R rm c%d

step "open + recovery of the root, nearly empty catalog"
run ts bench ops --open 20

step "scale run to $SCALE devices"
t0=$(ms_now)
run ts bench ops --from L --scale "$SCALE"
echo "scale run wall time: $(($(ms_now) - t0)) ms"

step "open + recovery of the root at $SCALE devices"
run ts bench ops --open 20
ls -l $R/meta

step "CLI at $SCALE devices"
"$PB" exec cli-create-activate-at-scale "$N" thinsnap --root $R container create e%d --from L \
  --activate
"$PB" exec cli-remove-at-scale "$N" thinsnap --root $R rm e%d
"$PB" exec cli-inspect-at-scale "$N" thinsnap --root $R inspect scale-%d

step "the floor of the scale run: raw create_snap + set_transaction_id messages to $SCALE"
run dmsetup create floorpool --table \
  "0 $(blockdev --getsz /dev/nvme3n1) thin-pool /dev/nvme4n1 /dev/nvme3n1 128 1024 1 skip_block_zeroing"
run dmsetup message floorpool 0 "create_thin 0"
"$PB" scale floorpool 0 1 "$SCALE"
run dmsetup remove floorpool

step "pool check at $SCALE devices"
t0=$(ms_now)
run ts pool check
echo "pool check wall time: $(($(ms_now) - t0)) ms"
echo "ops: done"
