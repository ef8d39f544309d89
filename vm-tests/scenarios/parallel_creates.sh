#!/bin/sh
# Description: 8 thinsnap processes creating snapshots at once: every id distinct and recorded, pool check clean
# VM-Args: --mem 3072
set -u
. /vm/lib/common.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }

run ts pool create --loopback --data-size 1G --metadata-size 16M --base-size 64M
run ts volume create src --size 64M --fs none
pids=""
p=0
while [ $p -lt 8 ]; do
  (
    i=0
    while [ $i -lt 10 ]; do
      ts volume clone src "p$p-$i" > /dev/null || exit 1
      i=$((i + 1))
    done
  ) &
  pids="$pids $!"
  p=$((p + 1))
done
failed=0
for pid in $pids; do wait "$pid" || failed=1; done
check_eq $failed 0 "all writers succeeded"
count=$(ts ls | awk 'NR > 1 && $1 ~ /^p/' | wc -l)
check_eq "$count" 80 "devices recorded"
ids=$(ts ls | awk 'NR > 1 { print $3 }' | sort -n | uniq -d)
check_eq "$ids" "" "duplicate ids"
kernel=$(ts --json pool status | awk -F': ' '/"KernelTransactionId"/ { gsub(/,/, "", $2); print $2 }')
journal=$(ts --json pool status | awk -F': ' '/"TransactionId"/ && !/Kernel/ { gsub(/,/, "", $2); print $2 }')
check_eq "$kernel" "$journal" "transaction ids"
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "parallel_creates: ok"
