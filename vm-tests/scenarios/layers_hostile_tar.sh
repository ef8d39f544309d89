#!/bin/sh
# Description: 34 hostile and edge-case layer tarballs (traversal, absolute names, symlink and hardlink escapes, devices, 8 GiB sparse file on a 64 MiB device, 10,000 files, 300-deep dirs, unicode, long names, duplicates, whiteouts outside, truncated, garbage, corrupt gzip/zstd, a 128 MiB gzip bomb) imported on real dm-thin: nothing escapes, each refusal names the entry and rolls the layer back; gzip and zstd layers have the plain tar's digest; pool check and thin_check clean
# VM-Args: --mem 3072 --timeout 840 --include @BUILD@/tests/vm_tar_tool
set -u
. /vm/lib/common.sh
R=/tmp/ts
W=/tmp/work
ts() { thinsnap --root "$R" "$@"; }
names() { ts ls | awk 'NR > 1 { print $1 }' | sort | tr '\n' ' '; }
# Everything outside the thinsnap root and this scenario's scratch dir, as one fingerprint.
outside() {
  find / \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path "$R" -o -path "$W" \) \
    -prune -o -print 2>/dev/null | LC_ALL=C sort | xargs stat -c '%n %f %u %g %s %h %Y' 2>/dev/null |
    sha256sum
}
TOOL=$(find / -path /proc -prune -o -name vm_tar_tool -type f -print 2>/dev/null | head -n1)
[ -x "$TOOL" ] || fail "vm_tar_tool not included"

mkdir -p $W/tars /tmp/canary && cd $W || fail "cd"
echo "do not touch" > /tmp/canary/secret
"$TOOL" hostile $W/tars > cases || fail "generating the tarballs"
echo "$(wc -l < cases) tarballs: $(du -sh tars | cut -f1)"
# A small base device (with inodes enough for 10,000 files) so that the bomb fills it fast.
run ts pool create --loopback --data-size 1G --metadata-size 32M --base-size 64M --mkfs-arg=-N20000

# Each accepted layer is mounted (read-only) and its contents checked.
check_layer() {
  C=$(ts mount "$1") || fail "mount $1"
  case $1 in
    03-absolute) check_eq "$(cat "$C/tmp/canary/abs")" inside "absolute name lands inside" ;;
    06-lower-symlink) check_eq "$(readlink "$C/lowlink")" /tmp/canary "symlink kept as is" ;;
    11-devices)
      check_eq "$(stat -c '%F %t:%T' "$C/dev/kmem")" "character special file 1:2" "char device"
      check_eq "$(stat -c '%F %t:%T' "$C/dev/sda")" "block special file 8:0" "block device"
      [ -p "$C/run/fifo" ] || fail "fifo missing" ;;
    13-huge-sparse)
      check_eq "$(stat -c %s "$C/huge")" 8589934592 "sparse file size"
      check_gt 1024 "$(du -k "$C/huge" | cut -f1)" "sparse file blocks (KiB)"
      check_eq "$(tail -c 4 "$C/huge")" tail "sparse file tail" ;;
    14-10000-files)
      check_eq "$(find "$C/many" -type f | wc -l)" 10000 "files"
      check_eq "$(cat "$C/many/d7/f9997")" 9997 "file 9997" ;;
    15-deep-dirs)
      p=$C/deep i=0
      while [ $i -lt 300 ]; do p=$p/d i=$((i + 1)); done
      check_eq "$(cat "$p/leaf")" deep "300-deep leaf" ;;
    16-unicode) check_eq "$(cat "$C/uni/h$(printf '\303\251')llo-$(printf '\346\227\245\346\234\254')-$(printf '\360\237\220\263')")" utf8 "unicode name" ;;
    17-long-name) check_eq "$(cat "$C"/aaaa*/nnnn*)" ok "255-byte name" ;;
    20-duplicates)
      check_eq "$(cat "$C/dup")" second "duplicate file: later wins"
      check_eq "$(readlink "$C/duplink")" b "duplicate symlink: later wins" ;;
    3[234]-valid*) check_eq "$(cat "$C/app/hello")" "hello, compressed world" "valid layer content" ;;
  esac
  ts unmount "$1" || fail "unmount $1"
}

BEFORE_ALL=$(outside)
CANARY=$(find /tmp/canary -exec stat -c '%n %f %s %h %Y' {} + | sha256sum)
refused=0 accepted=0
while read -r file expect needle parent; do
  layer=${file%%.tar*}
  set -- layer import "$layer"
  [ "$parent" = - ] || set -- "$@" --parent "${parent%%.tar*}"
  before=$(names)
  t0=$(ms_now)
  if ts "$@" "tars/$file" > out 2>&1; then
    [ "$expect" = accept ] || { cat out; fail "$file: imported, expected a refusal naming '$needle'"; }
    echo "accepted $file in $(($(ms_now) - t0)) ms: $(cat out)"
    check_layer "$layer"
    accepted=$((accepted + 1))
  else
    status=$?
    echo "refused $file in $(($(ms_now) - t0)) ms:"
    cut -c1-300 out
    [ "$expect" = refuse ] || fail "$file: refused (status $status), expected it to import"
    [ "$needle" = - ] || grep -qF -- "$needle" out || fail "$file: the error does not name '$needle'"
    grep -q "rolled back" out || fail "$file: the error does not say the layer was rolled back"
    check_eq "$(names)" "$before" "$file: devices after the refusal"
    refused=$((refused + 1))
  fi
  check_eq "$(find /tmp/canary -exec stat -c '%n %f %s %h %Y' {} + | sha256sum)" "$CANARY" "$file: canary"
done < cases
t0=$(ms_now)
check_eq "$(outside)" "$BEFORE_ALL" "nothing outside the thinsnap root changed"
echo "nothing outside the root changed (checked in $(($(ms_now) - t0)) ms)"

step "gzip and zstd layers carry the digest of the uncompressed tar"
PLAIN="sha256:$(sha256sum < tars/32-valid.tar | cut -d' ' -f1)"
for l in 32-valid 33-valid 34-valid; do
  check_eq "$(ts --json inspect $l | sed -n 's/.*"Digest": "\(.*\)".*/\1/p')" "$PLAIN" "digest of $l"
done

step "the pool is clean"
ts df
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
echo "layers_hostile_tar: ok ($accepted imported as expected, $refused refused as expected)"
