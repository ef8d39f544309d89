#!/bin/sh
# Description: guest half of vm-tests/bench/drivers.sh's power cuts (run it through that script).
# Usage: drivers-stability-guest.sh BOOT cut|check PATTERN ACKS
#   BOOT 1 makes every driver's filesystem and a container in it; later boots first recover and
#   check what the previous boot's cut left: the journal replayed by a mount, the filesystem's
#   own check, thinsnap's pool check, then every file acknowledged before the cut compared with
#   what was written. `cut` then starts the writers and resets the guest (sysrq b) a few seconds
#   in; `check` unmounts cleanly and ends.
#   PATTERN: a random file; file w<B>_<I> holds (16 + I % 16) 4 KiB blocks of it from block
#   (37 * I) % 256. ACKS: "DRIVER=BOOT:MAX,..." (the host reads the ACK lines this prints: the
#   writers print "ACK DRIVER I" once file I and its directory have been fsync'd).
# Prints "RESULT DRIVER BOOT clean|dirty LOST CHECKED" per driver and checked boot.
# Devices: nvme0n1+nvme1n1 thinsnap-ext4 pool (data, metadata), nvme2n1+nvme3n1 thinsnap-xfs,
# nvme4n1 overlay (ext4), nvme5n1 btrfs, nvme6n1 plain ext4, nvme7n1 the thinsnap roots (ext4).
set -u
# shellcheck disable=SC1091 # the harness provides it inside the guest
. /vm/lib/common.sh
BOOT=$1 MODE=$2 PATTERN=$3 ACKS=${4:-}
DRIVERS="thinsnap-ext4 thinsnap-xfs overlay btrfs plain"
S=/state

ts() { # ts DRIVER ARGS...
  _d=$1
  shift
  thinsnap --root "$S/$_d" "$@"
}
dev_of() {
  case $1 in
    thinsnap-ext4) echo /dev/nvme0n1 ;; thinsnap-xfs) echo /dev/nvme2n1 ;;
    overlay) echo /dev/nvme4n1 ;; btrfs) echo /dev/nvme5n1 ;; plain) echo /dev/nvme6n1 ;;
  esac
}
# The directory the writers write into.
dir_of() {
  case $1 in
    btrfs) echo /fs/btrfs/c ;;
    *) echo "/mnt/$1" ;;
  esac
}
fs_check() { # fs_check DEV ext4|xfs|btrfs: the filesystem's own read-only check
  case $2 in
    ext4) e2fsck -fn "$1" ;;
    xfs) xfs_repair -n "$1" ;;
    btrfs) btrfs check --readonly "$1" ;;
  esac
}

setup() {
  d=$1 dev=$(dev_of "$1")
  case $d in
    thinsnap-ext4 | thinsnap-xfs)
      fs=${d#thinsnap-}
      meta=/dev/nvme1n1
      [ "$fs" = xfs ] && meta=/dev/nvme3n1
      ts "$d" pool create --data "$dev" --metadata "$meta" --base-size 512M --fs "$fs" >/dev/null &&
        ts "$d" container create c --from base >/dev/null && mkdir -p "/mnt/$d" &&
        ts "$d" mount c "/mnt/$d" >/dev/null
      ;;
    overlay)
      mkfs.ext4 -q "$dev" && mkdir -p /fs/overlay /mnt/overlay && mount "$dev" /fs/overlay &&
        mkdir -p /fs/overlay/lower /fs/overlay/upper /fs/overlay/work &&
        echo base >/fs/overlay/lower/base &&
        mount -t overlay overlay -o lowerdir=/fs/overlay/lower,upperdir=/fs/overlay/upper,workdir=/fs/overlay/work /mnt/overlay
      ;;
    btrfs)
      mkfs.btrfs -q -f "$dev" && mkdir -p /fs/btrfs && mount "$dev" /fs/btrfs &&
        btrfs -q subvolume create /fs/btrfs/base && echo base >/fs/btrfs/base/base &&
        btrfs -q subvolume snapshot /fs/btrfs/base /fs/btrfs/c
      ;;
    plain) mkfs.ext4 -q "$dev" && mkdir -p /mnt/plain && mount "$dev" /mnt/plain ;;
  esac
}

# Recovers DRIVER after a cut and leaves its directory mounted. Prints the checks' output;
# returns non-zero when a check found damage.
recover() {
  d=$1 dev=$(dev_of "$1") bad=0
  case $d in
    thinsnap-ext4 | thinsnap-xfs)
      fs=${d#thinsnap-}
      ts "$d" pool activate || return 1
      ts "$d" pool check || bad=1
      mkdir -p "/mnt/$d"
      ts "$d" mount c "/mnt/$d" >/dev/null && ts "$d" unmount c || return 1 # journal replay
      cdev=$(ts "$d" activate c) || return 1
      fs_check "$cdev" "$fs" || bad=1
      ts "$d" mount c "/mnt/$d" >/dev/null || return 1
      ;;
    overlay)
      mkdir -p /fs/overlay /mnt/overlay
      mount "$dev" /fs/overlay && umount /fs/overlay || return 1
      fs_check "$dev" ext4 || bad=1
      mount "$dev" /fs/overlay || return 1
      mount -t overlay overlay -o lowerdir=/fs/overlay/lower,upperdir=/fs/overlay/upper,workdir=/fs/overlay/work /mnt/overlay || return 1
      ;;
    btrfs)
      mkdir -p /fs/btrfs
      mount "$dev" /fs/btrfs && umount /fs/btrfs || return 1
      fs_check "$dev" btrfs || bad=1
      mount "$dev" /fs/btrfs || return 1
      ;;
    plain)
      mkdir -p /mnt/plain
      mount "$dev" /mnt/plain && umount /mnt/plain || return 1
      fs_check "$dev" ext4 || bad=1
      mount "$dev" /mnt/plain || return 1
      ;;
  esac
  return $bad
}

# expected I: the content file I must have.
expected() {
  dd if="$PATTERN" bs=4k skip=$(((37 * $1) % 256)) count=$((16 + $1 % 16)) 2>/dev/null
}

# check_content DRIVER: compares every acknowledged file of every earlier boot; prints LOST CHECKED.
check_content() {
  lost=0 checked=0 dir=$(dir_of "$1")
  for entry in $(echo "$ACKS" | tr ',' '\n' | grep "^$1="); do
    b=${entry#*=}
    max=${b#*:}
    b=${b%%:*}
    i=1
    while [ "$i" -le "$max" ]; do
      checked=$((checked + 1))
      if ! expected "$i" | cmp -s - "$dir/w${b}_$i"; then
        lost=$((lost + 1))
        echo "lost or wrong: $1 w${b}_$i" >&2
      fi
      i=$((i + 1))
    done
  done
  echo "$lost $checked"
}

writer() { # writer DRIVER DIR: fsync'd files, one after the other, each acknowledged
  i=1
  while :; do
    # dd's own fsync covers the file's data and size; then the directory, for its new entry.
    expected "$i" | dd of="$2/w${BOOT}_$i" bs=64k conv=fsync 2>/dev/null || return
    sync "$2" || return
    echo "ACK $1 $i"
    i=$((i + 1))
  done
}

mkdir -p $S
if [ "$BOOT" = 1 ]; then
  mkfs.ext4 -q /dev/nvme7n1 || fail "mkfs state"
  mount /dev/nvme7n1 $S || fail "mount state"
  for d in $DRIVERS; do setup "$d" || fail "setting up $d"; done
else
  mount /dev/nvme7n1 $S || fail "mount state"
  for d in $DRIVERS; do
    echo "--- recovering $d after the cut of boot $((BOOT - 1))"
    if recover "$d" >"/tmp/recover-$d.txt" 2>&1; then state=clean; else state=dirty; fi
    tail -5 "/tmp/recover-$d.txt"
    if [ -d "$(dir_of "$d")" ]; then
      # shellcheck disable=SC2046 # two numbers, split on purpose
      set -- $(check_content "$d")
    else
      set -- 0 0
      state=dirty
    fi
    [ "$1" = 0 ] || state=dirty
    echo "RESULT $d $((BOOT - 1)) $state $1 $2"
  done
fi

if [ "$MODE" = check ]; then
  for d in thinsnap-ext4 thinsnap-xfs; do
    ts "$d" unmount c
    ts "$d" pool deactivate
  done
  umount /mnt/overlay /fs/overlay /fs/btrfs /mnt/plain $S
  exit 0
fi

# The cut: an unsynced bulk write and an fsync'd writer per driver, then a reset.
for d in $DRIVERS; do
  dir=$(dir_of "$d")
  rm -f "$dir/bulk"
  dd if=/dev/zero of="$dir/bulk" bs=1M count=128 2>/dev/null &
  writer "$d" "$dir" &
done
sleep "${DRIVERS_CUT_AFTER:-8}"
echo "CUTTING"
echo 1 >/proc/sys/kernel/sysrq
echo b >/proc/sysrq-trigger
sleep 30
fail "the guest was not reset"
