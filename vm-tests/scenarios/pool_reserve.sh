#!/bin/sh
# Description: space reserve: pool monitor stops buffered writers on ext4 and xfs before the pool is full (--on-full error: first error <= 10 s after the reserve is reached, fsync reports it; an idle ext4 or xfs container is frozen and keeps reading), fsync'd files in the same and another container survive growth (or rm) and remount, fsck clean; --on-full queue freezes, growth after 5 s thaws, no writer fails; a direct NVMe pool recovers by rm; a 2 MiB metadata device reaches its reserve and metadata growth brings the containers back
# VM-Args: --mem 2048 --timeout 900 --nvme 192M --nvme 8M --include @BUILD@/tests/vm_enospc_writer
# Expect-kernel: EXT4-fs warning .*ext4_clear_journal_err
# Expect-kernel: EXT4-fs.*(shut down|shutdown|aborted journal|error count|initial error|last error|Delayed block allocation failed|I/O error|This should not happen)
# Expect-kernel: XFS .*(shutdown|Shutdown|Please unmount|writeback error|metadata I/O error|log I/O error|ENOSPC|Filesystem has been shut down)
# Expect-kernel: (Buffer I/O error|lost async page write|I/O error, dev dm-)
# Expect-kernel: device-mapper: thin: .*(no free data space|switching pool to out-of-data-space)
set -u
# shellcheck source=vm-tests/lib/common.sh
. /vm/lib/common.sh
ts() { thinsnap --root "$R" "$@"; }
json_field() { sed -n "s/.*\"$1\": \"\{0,1\}\([^\",]*\).*/\1/p"; }
WRITER=$(find / /tmp -xdev -name vm_enospc_writer -type f 2>/dev/null | head -n 1)
[ -n "$WRITER" ] || fail "vm_enospc_writer not included"
dd if=/dev/urandom of=pre bs=1M count=2 2>/dev/null
PRE=$(sha_of pre)
T_ALL=$(ms_now)
# Arguments (for a quick rerun by hand): the case numbers to run; default all.
CASES=" ${*:-1 2 3 4 5 6 7} "
want() { case $CASES in *" $1 "*) return 0 ;; esac; return 1; }

# setup FS [pool create args...]: pool, containers c0 and c1 mounted, an fsync'd file in each,
# and pool monitor running.
setup() {
  fs=$1
  shift
  run ts pool create --base-size 320M --fs "$fs" --min-free-space "${MIN_FREE:-10}" "$@"
  POOL=$(ts --json pool status | json_field PoolName)
  RESERVE=$(ts --json pool status | json_field DataReserveBlocks)
  check_gt "$RESERVE" 0 "data reserve blocks"
  for c in c0 c1; do
    run ts container create $c --from base
    M=$(ts mount $c) || fail "mount $c"
    run dd if=pre of="$M/pre" bs=1M conv=fsync
  done
  ts pool monitor >mon.log 2>&1 &
  MON=$!
}

# Milliseconds since boot from /proc/uptime with the shell's own `read` (no process to start,
# which costs up to seconds on a loaded TCG host): the clock of the usage samples and errors.
up_ms() {
  read -r _up _ </proc/uptime
  _frac=${_up#*.}
  echo $((${_up%.*} * 1000 + ${_frac#0} * 10))
}
# Wall-clock ms minus uptime ms, to put the C writer's wall-clock error time on the same clock.
OFFSET_MS=$(($(ms_now) - $(up_ms)))

# Samples "<ms> <used> <total>" of the pool's data space into usage.log until usage.stop exists.
sample_usage() {
  rm -f usage.log usage.stop
  (
    while [ ! -e usage.stop ]; do
      u=$(dmsetup status "$POOL" | awk '{ split($6, d, "/"); print d[1], d[2] }')
      echo "$(up_ms) $u"
      sleep 0.1
    done >usage.log
  ) &
  SAMPLER=$!
}

# The last sample with more free data blocks than the reserve: the reserve was reached after it
# (so the figure below is, if anything, too long).
reserve_reached_ms() {
  awk -v r="$RESERVE" '$3 - $2 > r { t = $1 } END { print t + 0 }' usage.log
}

stop_sampling() {
  : >usage.stop
  wait "$SAMPLER"
}

# verify FS: pre files after recovery, then clean fsck of c0 and c1; tears the pool down.
verify() {
  if ts pool status | grep "^Stopped: c0 stuck"; then
    echo "NOTE: c0 is stuck (frozen and shut down): the emergency thaw, then thinsnap mount"
    echo j >/proc/sysrq-trigger
    sleep 1
    ts mount c0 || fail "mount c0 after the emergency thaw"
  fi
  for c in c0 c1; do
    M=$(ts mount $c) || fail "mount $c after recovery"
    check_eq "$(sha_of "$M/pre")" "$PRE" "$c/pre (fsync'd before the event) after recovery"
  done
  kill "$MON"
  wait "$MON" 2>/dev/null
  for c in c0 c1; do
    run ts unmount $c
    D=$(ts activate $c) || fail "activate $c"
    if [ "$1" = ext4 ]; then run e2fsck -fn "$D"; else run xfs_repair -n "$D"; fi
    run ts deactivate $c
  done
  run ts pool check
  run ts pool destroy --force
}

# wait_writer PID SECONDS WHAT: polls until PID has exited; fails after SECONDS.
wait_writer() {
  _i=0
  while kill -0 "$1" 2>/dev/null; do
    _i=$((_i + 1))
    [ $_i -gt $(($2 * 5)) ] && fail "$3 still runs after $2 s"
    sleep 0.2
  done
}

# wait_log PATTERN SECONDS: polls mon.log until it holds PATTERN (grep); fails after SECONDS.
# The monitor prints a turn's lines when the turn ends (its journal commit and the engine's close
# come after the shutdown ioctl), so the writer it stopped can see its EIO and exit first.
wait_log() {
  _i=0
  until grep -q "$1" mon.log; do
    _i=$((_i + 1))
    [ $_i -gt $(($2 * 5)) ] && return 1
    sleep 0.2
  done
}

# error_case FS WRITER: fill c1 until the monitor stops it; asserts the time to the first error.
error_case() {
  fs=$1 how=$2
  step "$fs, --on-full error, $how writer: stopped at the reserve, fast error, nothing lost"
  sample_usage
  if [ "$how" = dd ]; then
    ( dd if=/dev/zero of="$M1/big" bs=1M count=300 conv=fsync 2>dd.err; echo $? >dd.rc
      up_ms >err.ms ) &
    WP=$!
  else
    ( "$WRITER" --buffered "$M1/big" 300 >w.out; echo $? >dd.rc ) &
    WP=$!
  fi
  wait_writer "$WP" 180 "the $how writer"
  wait "$WP"
  stop_sampling
  wait_log "reserve: pool data space at the reserve: shut down c1" 60 ||
    fail "monitor did not shut c1 down: $(cat mon.log)"
  cat mon.log
  check_ne "$(cat dd.rc)" 0 "$how writer exit status"
  if [ "$how" = dd ]; then
    cat dd.err
    grep -q "Input/output error\|No space left" dd.err || fail "dd did not report EIO/ENOSPC"
    ERR_MS=$(cat err.ms)
  else
    cat w.out
    grep -q "errno=\(5\|28\) " w.out || fail "writer got no EIO/ENOSPC"
    grep -q "fsync_errno=\(5\|28\) " w.out || fail "fsync did not report the failure"
    ERR_MS=$(($(sed -n 's/.*error_at_ms=\([0-9]*\).*/\1/p' w.out) - OFFSET_MS))
  fi
  T_RES=$(reserve_reached_ms)
  check_gt "$T_RES" 0 "usage samples before the reserve"
  DT=$((ERR_MS - T_RES))
  GAP=$(awk -v t="$T_RES" '$1 > t { print $1 - t; exit }' usage.log)
  echo "FIGURE $fs $how: first error $DT ms after the reserve was reached (usage sampled every ${GAP:-?} ms there); pool $(dmsetup status "$POOL" | awk '{ print $6 }') blocks used at the end (reserve $RESERVE)"
  [ "$DT" -le 10000 ] || fail "$fs $how: first error $DT ms after the reserve (limit 10000)"
  ts pool status | tee st.txt
  grep -q "^Stopped: c1 shutdown" st.txt || fail "status does not list c1 as stopped"
  grep -q "Warning: c1 was shut down .*thinsnap mount c1" st.txt || fail "status gives no next step for c1"
  ts --json pool status | grep -q '"How": "shutdown"' || fail "status --json lists no stopped devices"
  idle_container_runs
}

# c0 wrote nothing while the pool filled: it is frozen, not shut down, and its data reads back
# from the device (page cache dropped) while c1 is down. A burst of writeback can fill these small
# pools before the monitor's next look (200 ms); then every filesystem is shut down, and only
# `strict` (a slow writer) insists on the freeze.
idle_container_runs() {
  # The turn's line for c0 follows c1's: froze (else shut down, handled below).
  wait_log "froze c0\|shut down c0" 30 || fail "the monitor did not stop c0: $(cat mon.log)"
  if grep -q "shut down c0" mon.log; then
    [ "${1:-}" = strict ] && fail "the monitor shut down c0, which was not allocating"
    echo "NOTE: c0 was shut down too (the pool was full at the monitor's look, or filled while c0 froze)"
    return
  fi
  ts pool status | grep "^Stopped: c0 frozen" || fail "status does not list c0 as frozen"
  M0=$(ts mount c0) || fail "mount c0 (already mounted)"
  echo 3 >/proc/sys/vm/drop_caches
  got=$(sha_of "$M0/pre")
  if [ "${1:-}" != strict ] && [ "$got" != "$PRE" ]; then
    # A write of its own after the freeze found the pool full and it shut itself down frozen:
    # growth lists it `stuck`, and verify takes the operator's way out (README).
    echo "NOTE: c0 froze, then shut itself down and stopped serving reads"
    return
  fi
  check_eq "$got" "$PRE" "c0/pre read from frozen c0 while c1 is shut down"
}

if want 1; then
step "1. ext4 loopback pool"
R=/tmp/r1
setup ext4 --loopback --data-size 128M --metadata-size 4M
M1=$(ts mount c1)
error_case ext4 dd
run ts pool set --data-size 256M
ts pool status | grep -q "^Stopped:" && fail "growth did not bring the containers back"
verify ext4

fi
if want 2; then
step "2. xfs loopback pool"
R=/tmp/r2
setup xfs --loopback --data-size 128M --metadata-size 4M
M1=$(ts mount c1)
error_case xfs c
run ts pool set --data-size 256M
verify xfs

fi
if want 3; then
step "3. ext4, --on-full queue: the writer waits frozen; growth 5 s later releases it"
R=/tmp/r3
setup ext4 --loopback --data-size 128M --metadata-size 4M --on-full queue
M1=$(ts mount c1)
( "$WRITER" --buffered "$M1/big" 160 >w.out; echo $? >q.rc ) &
WP=$!
i=0
until grep -q "at the reserve: froze c1" mon.log; do
  i=$((i + 1))
  [ $i -gt 600 ] && fail "the monitor froze nothing"
  sleep 0.2
done
sleep 5
[ -e q.rc ] && fail "the writer finished while frozen: $(cat w.out)"
ts pool status | grep "^Stopped: c1 frozen" || fail "status does not list c1 as frozen"
T_G=$(ms_now)
run ts pool set --data-size 384M
wait "$WP"
cat mon.log w.out
check_eq "$(cat q.rc)" 0 "queued writer exit status"
echo "FIGURE ext4 queue: the frozen writer finished $(($(ms_now) - T_G)) ms after the growth began"
check_eq "$(sha_of "$M1/big")" "$(head -c 167772160 /dev/zero | tr '\0' 'Z' | sha256sum | cut -d' ' -f1)" "the queued writer's 160 MiB"
verify ext4

fi
if want 4; then
step "4. direct pool on NVMe, no autoextend: rm of a volume brings the containers back"
R=/tmp/r4
setup ext4 --data /dev/nvme0n1 --metadata /dev/nvme1n1
run ts volume create victim --size 48M --fs none
V=$(ts activate victim) || fail "activate victim"
run dd if=/dev/zero of="$V" bs=1M count=40 oflag=direct
run ts deactivate victim
M1=$(ts mount c1)
error_case ext4 c
run ts rm victim
ts pool status | grep -q "^Stopped:" && fail "rm did not bring the containers back"
verify ext4
fi
# slow_writer_case FS: a raw volume nearly fills the pool, then c1 writes small fsync'd files
# slowly: only c1 is shut down, the idle c0 is frozen and reads; rm of the volume brings both back.
slow_writer_case() {
  setup "$1" --loopback --data-size 128M --metadata-size 4M
  run ts volume create filler --size 96M --fs none
  V=$(ts activate filler) || fail "activate filler"
  # Leave about 8 MiB above the reserve (64 KiB blocks): xfs containers take more than ext4 ones.
  free=$(dmsetup status "$POOL" | awk '{ split($6, d, "/"); print d[2] - d[1] }')
  run dd if=/dev/zero of="$V" bs=1M count=$(((free - RESERVE) / 16 - 8)) oflag=direct
  M1=$(ts mount c1)
  ( i=0; while dd if=/dev/urandom of="$M1/f$i" bs=256k count=1 conv=fsync 2>w6.err; do
      i=$((i + 1)); sleep 0.1; done; echo "$i" >w6.n ) &
  W6=$!
  wait_writer "$W6" 120 "the slow writer"
  wait_log "shut down c1" 60 || fail "the monitor did not shut c1 down: $(cat mon.log w6.err)"
  cat mon.log w6.err
  grep -q "Input/output error" w6.err || fail "the slow writer got no EIO"
  used=$(dmsetup status "$POOL" | awk '{ split($6, d, "/"); print d[2] - d[1] }')
  echo "FIGURE $1 slow writer: $(cat w6.n) files of 256 KiB written; $used blocks free after the stop (reserve $RESERVE)"
  check_gt "$used" 0 "free data blocks after the stop"
  idle_container_runs strict
  run ts deactivate filler
  run ts rm filler
  ts pool status | grep -q "^Stopped:" && fail "rm did not bring the containers back"
  verify "$1"
}

if want 6; then
step "6. ext4, a slow writer: only it is shut down; the idle container is frozen and reads"
R=/tmp/r6
slow_writer_case ext4
fi
if want 7; then
step "7. xfs, a slow writer: only it is shut down; the idle container is frozen and reads"
R=/tmp/r7
slow_writer_case xfs
fi
if want 5; then
step "5. metadata at the reserve (2 MiB metadata, a 30% reserve): the containers are stopped in time (the allocating one shut down)"
R=/tmp/r5
MIN_FREE=1 setup ext4 --loopback --data-size 1G --metadata-size 2M --reserve 30%
run ts volume create v --size 256M --fs none
D=$(ts activate v) || fail "activate v"
run dd if=/dev/zero of="$D" bs=1M count=256 oflag=direct
# c1 keeps allocating (small fsync'd files) until it is shut down; c0 stays idle.
M1=$(ts mount c1)
( i=0; while dd if=/dev/urandom of="$M1/f$i" bs=64k count=1 conv=fsync 2>/dev/null; do
    i=$((i + 1)); sleep 0.2; done ) &
W1=$!
# Each round: a snapshot of v, then one 4 KiB write per 4 MiB of v, which copies the mapping
# leaves of v (metadata blocks) until the metadata reserve is reached.
n=0
until grep -q "reserve: pool metadata space at the reserve: shut down c1" mon.log; do
  n=$((n + 1))
  [ $n -gt 40 ] && fail "metadata never reached the reserve: $(pool_status_field "$POOL" 2)"
  ts volume clone v "s$n" >/dev/null || fail "clone s$n: metadata $(pool_status_field "$POOL" 2)"
  fio --name=cow --filename="$D" --rw=write:4092k --bs=4k --direct=1 --size=256M --io_size=256k \
    --ioengine=psync --eta=never --output=/dev/null || fail "fio on v"
  sleep 0.5
done
cat mon.log
echo "FIGURE metadata: stopped after $n snapshots with metadata $(pool_status_field "$POOL" 2) used"
check_eq "$(dmsetup status "$POOL" | awk '{ print $8 }')" rw "pool mode (metadata never ran out)"
ts pool status | grep "^Stopped: c1 shutdown (metadata reserve)" || fail "status: c1 not stopped for metadata"
wait "$W1"
# The raw volume v drives metadata here; c1's small writes may fall between two looks, and then
# every filesystem is shut down (no filesystem seen allocating): c0's reads are not asserted.
idle_container_runs
run ts deactivate v
run ts pool set --metadata-size 4M
ts pool status | grep -q "^Stopped:" && fail "metadata growth did not bring the containers back"
verify ext4
fi
echo "pool_reserve: ok in $(($(ms_now) - T_ALL)) ms"
