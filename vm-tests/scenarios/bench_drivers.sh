#!/bin/sh
# Description: bench drivers --small on NVMe (thinsnap ext4/xfs direct pools, overlay, btrfs, plain): table, CSV and charts written with sane figures, page cache shared by overlay only, nothing left behind, bad input refused
# VM-Args: --nvme 3G --nvme 256M --mem 2048
set -u
# shellcheck disable=SC1091 # the harness provides it inside the guest
. /vm/lib/common.sh

step "bad input is refused before anything is touched"
for args in "--drivers zfs --dir /tmp/x" "--drivers overlay,overlay --dir /tmp/x" \
  "--containers 1 --dir /tmp/x" "--copyup-size 3k --dir /tmp/x" "--pool-block 96k --dir /tmp/x" \
  "--metadata-device /dev/nvme1n1 --dir /tmp/x" "--drivers overlay"; do
  # shellcheck disable=SC2086
  thinsnap bench drivers $args >err.txt 2>&1
  rc=$?
  cat err.txt
  check_eq "$rc" 2 "exit status of bench drivers $args"
  check_eq "$(wc -l <err.txt)" 1 "lines of the error of bench drivers $args"
done
[ -e /tmp/x ] && fail "a refused run made its scratch directory"

step "every driver, small sizes, on /dev/nvme0n1 (thinsnap metadata on /dev/nvme1n1)"
t0=$(ms_now)
run thinsnap bench drivers --small --device /dev/nvme0n1 --metadata-device /dev/nvme1n1 \
  --dir /tmp/drv --out /tmp/out
echo "bench drivers --small took $(($(ms_now) - t0)) ms"
dmsetup ls 2>/dev/null | grep -q thinsnap && fail "a thinsnap device was left behind"
grep -q /tmp/drv /proc/mounts && fail "a mount was left behind"

step "the CSV: every driver, every metric but stability, positive where it must be"
CSV=/tmp/out/drivers.csv
cat "$CSV"
grep -q '^# ran-on: kernel ' "$CSV" || fail "the CSV does not say what it ran on"
grep -q '^# limit: ' "$CSV" || fail "the CSV does not state its limits"
grep -q '^driver,axis,metric,value,unit,better$' "$CSV" || fail "CSV header"
for d in thinsnap-ext4 thinsnap-xfs overlay btrfs plain; do
  check_eq "$(grep -c "^$d," "$CSV")" 13 "metrics of $d"
done
awk -F, '/^#/ || /^driver,/ { next }
  NF != 6 { print "line " NR ": " NF " fields"; bad = 1 }
  $4 !~ /^[0-9.e+-]+$/ { print "line " NR ": value " $4; bad = 1 }
  $3 ~ /^(create_p50_ms|read_seq_mib_s|read_rand_iops|write_seq_mib_s|write_rand_iops|copyup_ms|copyup_written_kib|disk_image_mib)$/ && $4 + 0 <= 0 {
    print "line " NR ": " $3 " is " $4; bad = 1 }
  END { exit bad }' "$CSV" || fail "CSV rows malformed"
val() { awk -F, -v d="$1" -v m="$2" '$1 == d && $3 == m { print $4 }' "$CSV"; }
# Behaviour, not speed: overlay's readers share one page-cache copy of the lower file, the plain
# copies cannot (3 containers); overlay copies the whole 64 MiB file up, a thin snapshot one
# 64 KiB block (plus metadata and the filesystem's journal).
awk -v o="$(val overlay memory_copies)" -v p="$(val plain memory_copies)" \
  'BEGIN { exit !(o < 1.5 && p >= 2) }' || fail "page cache: overlay $(val overlay memory_copies) copies, plain $(val plain memory_copies)"
awk -v o="$(val overlay copyup_written_kib)" -v t="$(val thinsnap-ext4 copyup_written_kib)" \
  'BEGIN { exit !(o >= 32768 && t < 16384) }' || fail "copy-up written: overlay $(val overlay copyup_written_kib) KiB, thinsnap-ext4 $(val thinsnap-ext4 copyup_written_kib) KiB"
# plain's containers are copies of the (~92 MiB) image; thin snapshots share it.
awk -v p="$(val plain disk_containers_mib)" -v t="$(val thinsnap-ext4 disk_containers_mib)" \
  'BEGIN { exit !(p >= 200 && t < p / 2) }' || fail "disk: plain $(val plain disk_containers_mib) MiB, thinsnap $(val thinsnap-ext4 disk_containers_mib) MiB"

step "the table and the charts"
cat /tmp/out/drivers.txt
grep -q '^ran on: ' /tmp/out/drivers.txt || fail "the table does not say what it ran on"
grep -q 'axis scores' /tmp/out/drivers.txt || fail "the table has no axis scores"
for f in radar create read write copyup memory disk; do
  SVG=/tmp/out/drivers-$f.svg
  [ -s "$SVG" ] || fail "$SVG missing"
  head -1 "$SVG" | grep -q '^<svg xmlns="http://www.w3.org/2000/svg"' || fail "$SVG root element"
  tr '\n' ' ' <"$SVG" | awk '{
      s = $0
      while (match(s, /<[^>]*>/)) {
        t = substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH)
        if (t ~ /\/$/) continue
        split(t, w, /[ \t]/)
        if (substr(t, 1, 1) == "/") { if (n == 0 || stack[n] != substr(w[1], 2)) exit 1; n-- }
        else stack[++n] = w[1]
      }
      exit n != 0
    }' || fail "$SVG is not well-formed"
done
[ -e /tmp/out/drivers-stability.svg ] && fail "a stability chart without stability figures"
check_eq "$(grep -c 'fill-opacity="0.08"' /tmp/out/drivers-radar.svg)" 5 "radar polygons"

step "render: stability rows merge into the report"
printf 'driver,axis,metric,value,unit,better\noverlay,stability,stability_clean_pct,100,%%,higher\nplain,stability,stability_clean_pct,50,%%,higher\n' >/tmp/stab.csv
run thinsnap bench drivers --render "$CSV" --render /tmp/stab.csv --out /tmp/out2 >/dev/null
[ -s /tmp/out2/drivers-stability.svg ] || fail "no stability chart after the merge"
grep -q '^stability ' /tmp/out2/drivers.txt || fail "no stability score in the merged table"
thinsnap bench drivers --render /tmp/nope.csv >err.txt 2>&1
check_ne "$?" 0 "render of a missing CSV"
echo "bench_drivers: ok"
