#!/bin/sh
# Description: containerd sends Prepare/Mounts/Remove in parallel (ctrbench -burst through containerd's client): 16 Prepare with a size label and 32 without, all at once, all land, their activations and filesystem growths overlap outside the engine's turns (counted in serve -v), Prepares queued together share a pool transaction (group commit: fewer transactions than requests), then 16 and 32 Remove at once and GC leave no snapshot and no device; the same burst under serve --serial never overlaps; pool check and thin_check clean
# VM-Args: --mem 3072 --cpus 2 --timeout 840 --include /usr/bin/containerd --include /usr/bin/ctr --include @BUILD@/vm-tests/ctrbench.bin
# containerd's GC deletes a snapshot right after its Remove; the kernel may still hold it:
# Expect-kernel: device-mapper: thin: Deletion of thin device [0-9]+ failed
set -u
# shellcheck disable=SC1091 # the harness provides them inside the guest
. /vm/lib/common.sh
# shellcheck disable=SC1091
. /vm/lib/containerd.sh

R=/tmp/ts
SIZE_LABEL=containerd.io/snapshot/thinsnap.size
ts() { thinsnap --root "$R" "$@"; }
trap ctd_cleanup EXIT

ctrbench=${THINSNAP_BUILD_DIR:-}/vm-tests/ctrbench.bin
[ -x "$ctrbench" ] || ctrbench=$(find / /tmp -xdev -name ctrbench.bin -type f 2>/dev/null | head -n1)
if [ -z "$ctrbench" ] || [ ! -x "$ctrbench" ]; then
  skip "ctrbench.bin not built (needs golang-go and golang-github-containerd-containerd-dev)"
fi

# thin_devices: thinsnap's active thin devices (not the pool), sorted.
thin_devices() {
  dmsetup ls | awk '$1 ~ /^thinsnap-/ && $1 !~ /-pool$/ { print $1 }' | sort | tr '\n' ' '
}
# txn: the pool's kernel transaction id (one per pool transaction).
txn() { ts pool status | awk -F': *' '/^ *Transaction id:/ { print $2 }'; }
ts_names() {
  ts ls | awk 'NR > 1 && $1 != "ctd-root" { print $1 }' | sort | tr '\n' ' '
}

# overlap LOG: the most activations in flight at once in serve -v's log ("activating NAME
# outside the turns" ... "activated NAME").
overlap() {
  awk '/thinsnap serve: activating ctd-/ { n++; if (n > max) max = n }
       /thinsnap serve: activated ctd-/ { n-- }
       END { print max + 0 }' "$1"
}

# burst N [LABEL]: ctrbench -burst N through containerd; its output in /tmp/burst.out.
burst() {
  _label=""
  [ $# -lt 2 ] || _label="-label $2"
  echo "+ ctrbench -snapshotter thinsnap -burst $1 $_label"
  # shellcheck disable=SC2086 # the label option is two words or none
  "$ctrbench" -address "$CTD_SOCK" -snapshotter thinsnap -burst "$1" $_label >/tmp/burst.out 2>&1 ||
    { cat /tmp/burst.out; ctd_log_errors 20; tail -n 20 "$TS_SERVE_LOG"; fail "ctrbench -burst $1 failed"; }
  grep -v -e '-burst-latencies' /tmp/burst.out
  wall=$(awk '$1 == "thinsnap-burst" { sub("wall=", "", $3); print $3 }' /tmp/burst.out)
  n=$(awk '$1 == "thinsnap-burst" { sub("n=", "", $2); print $2 }' /tmp/burst.out)
  check_eq "$n" "$1" "requests in the burst"
}

step "a loopback pool; thinsnap serve -v; containerd with thinsnap as its proxy snapshotter"
run ts pool create --loopback --data-size 6G --metadata-size 64M --base-size 128M
names_before=$(ts_names)
ts_serve_start "$R" -v
ctd_start
ctd_wait_snapshotter thinsnap
devs_before=$(thin_devices)

step "16 Prepare+Mounts at once, each with $SIZE_LABEL=256M (a resize2fs each), then 16 Remove"
log_from=$(wc -l <"$TS_SERVE_LOG")
burst 16 "$SIZE_LABEL=256M"
wall_sized=$wall
tail -n +"$((log_from + 1))" "$TS_SERVE_LOG" >/tmp/serve-sized.log
grown=$(grep -c 'activating ctd-.*growing its filesystem' /tmp/serve-sized.log)
echo "filesystem growths reported: $grown"
check_eq "$grown" 17 "growths (16 sized snapshots and ctrbench's warm-up)"
most=$(overlap /tmp/serve-sized.log)
echo "most activations in flight at once: $most"
check_gt "$most" 1 "activations in flight at once (concurrent serve)"
check_eq "$(ts_names)" "$names_before" "thinsnap ls after the burst and GC"
check_eq "$(thin_devices)" "$devs_before" "active thin devices after the burst and GC"
run ts pool check

step "32 Prepare+Mounts at once without a label (activation only), then 32 Remove: group commits"
log_from=$(wc -l <"$TS_SERVE_LOG")
txn_before=$(txn)
burst 32
wall_plain=$wall
txns=$(($(txn) - txn_before))
tail -n +"$((log_from + 1))" "$TS_SERVE_LOG" >/tmp/serve-plain.log
echo "most activations in flight at once: $(overlap /tmp/serve-plain.log)"
# Prepares queued for the engine's turn together are begun in one pool transaction (serve -v:
# "group commit of N"); one at a time they would take 33 (warm-up included), the Removes 33.
grouped=$(awk '/thinsnap serve: group commit of / { n++; s += $NF; if ($NF > max) max = $NF }
               END { printf "%d %d %d", n, s, max }' /tmp/serve-plain.log)
echo "group commits, snapshots in them, largest: $grouped; pool transactions for the burst: $txns"
check_gt "$(echo "$grouped" | cut -d' ' -f1)" 0 "group commits in a burst of 32"
check_gt "$(echo "$grouped" | cut -d' ' -f3)" 1 "Prepares in the largest group commit"
check_gt 66 "$txns" "pool transactions for 33 Prepares and 33 Removes"
check_eq "$(ts_names)" "$names_before" "thinsnap ls after the second burst"
check_eq "$(thin_devices)" "$devs_before" "active thin devices after the second burst"
run ts pool check

step "the same 16 sized requests under thinsnap serve --serial: no overlap"
ctd_stop
ts_serve_stop
ts_serve_start "$R" -v --serial
ctd_start
ctd_wait_snapshotter thinsnap
log_from=$(wc -l <"$TS_SERVE_LOG")
burst 16 "$SIZE_LABEL=256M"
wall_serial=$wall
tail -n +"$((log_from + 1))" "$TS_SERVE_LOG" >/tmp/serve-serial.log
most=$(overlap /tmp/serve-serial.log)
echo "most activations in flight at once: $most"
check_eq "$most" 1 "activations in flight at once (serve --serial)"
echo "burst of 16 sized Prepare+Mounts: wall $wall_sized ms concurrent, $wall_serial ms serial" \
  "(ratio $(awk -v a="$wall_sized" -v b="$wall_serial" 'BEGIN { printf "%.2f", a / b }'));" \
  "32 unlabelled: $wall_plain ms"
check_eq "$(ts_names)" "$names_before" "thinsnap ls after the serial burst"

step "stop containerd and thinsnap serve (SIGTERM); pool check, thin_check"
ctd_stop
ts_serve_stop
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "containerd_concurrency: all checks passed"
