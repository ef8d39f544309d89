#!/bin/sh
# Description: the CLI killed at every fault point of create-thin (overlapped: the intent's fdatasync beside the kernel work), snapshot, delete and commit recovers to the before or the after state; pool check and thin_check clean
# VM-Args: --mem 3072
# Expect-kernel: device-mapper: thin: Deletion of thin device [0-9]+ failed
# Expect-kernel: device-mapper: thin: Creation of new (snapshot|thinly-provisioned device).* failed
# Expect-kernel: device-mapper: thin: Creation of (new snapshot|thin device) [0-9]+ failed
# Expect-kernel: device-mapper: thin: .*(create|delete).*(failed|exists)
set -u
. /vm/lib/common.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }
names() { ts ls | awk 'NR > 1 { print $1 }' | sort | tr '\n' ' '; }

run ts pool create --loopback --data-size 1G --metadata-size 16M --base-size 64M
run ts container create work --from base
n=0
for point in after-intent after-kernel-op after-set-transaction-id after-intent-sync after-commit mid-checkpoint; do
  for op in create snapshot delete commit; do
    n=$((n + 1))
    case $op in
      create) ts volume create "pre$n" --size 64M --fs none > /dev/null; set -- volume create "v$n" --size 64M --fs none ;;
      snapshot) ts volume create "pre$n" --size 64M --fs none > /dev/null; set -- volume clone "pre$n" "v$n" ;;
      delete) ts volume create "v$n" --size 64M --fs none > /dev/null; set -- rm "v$n" ;;
      commit) set -- commit work "v$n" ;;
    esac
    before=$(names)
    THINSNAP_FAULT=$point ts "$@" > /dev/null 2>&1
    status=$?
    # mid-checkpoint is reached only when a checkpoint happens, after-intent-sync only by an
    # overlapped create (volume create: no origin); otherwise the command completes.
    [ $status -eq 137 ] || [ "$point" = mid-checkpoint ] ||
      { [ "$point" = after-intent-sync ] && [ "$op" != create ]; } ||
      fail "$op at $point: exit $status, expected 137"
    after_state=$(ts ls > /dev/null && names) || fail "$op at $point: next command failed"
    ts pool check > check.out 2>&1 || { cat check.out; fail "$op at $point: pool check not clean"; }
    case $op in
      delete) expect_after=$(echo "$before" | tr ' ' '\n' | grep -v '^$' | grep -v "^v$n\$" | sort | tr '\n' ' ') ;;
      *) expect_after=$(printf '%s\nv%s\n' "$(echo "$before" | tr ' ' '\n')" "$n" | grep -v '^$' | sort | tr '\n' ' ') ;;
    esac
    if [ "$after_state" != "$before" ] && [ "$after_state" != "$expect_after" ]; then
      fail "$op at $point: devices '$after_state' are neither before '$before' nor after '$expect_after'"
    fi
    echo "ok: $op killed at $point (exit $status) -> $( [ "$after_state" = "$before" ] && echo before || echo after)"
  done
done
run ts pool deactivate --force
thin_check_pool_meta "$R/metadata"
run ts pool activate
run ts pool check
echo "crash_faults: ok ($n cases)"
