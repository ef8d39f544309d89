#!/bin/sh
# Description: bench cow --small on scratch loopback pools and on the current pool: table, CSV and SVG sane, nothing left behind, bad input refused
# VM-Args: --mem 2048
set -u
. /vm/lib/common.sh
R=/tmp/ts
ts() { thinsnap --root "$R" "$@"; }

step "bad input is refused before anything is created"
for args in "--io-sizes 3k --scratch /tmp/x" "--depths 0 --scratch /tmp/x" \
  "--block-sizes 96k --scratch /tmp/x" "--data /dev/nvme9n1 --metadata /dev/nvme8n1"; do
  # shellcheck disable=SC2086
  thinsnap bench cow $args > err.txt 2>&1
  rc=$?
  cat err.txt
  check_eq "$rc" 2 "exit status of bench cow $args"
done
[ -e /tmp/x/pool-64k/data ] && fail "a refused run left a pool behind"

step "scratch loopback pools, 64K and 256K blocks"
t0=$(ms_now)
run thinsnap bench cow --small --scratch /tmp/cow --out /tmp/out
echo "bench cow --small took $(($(ms_now) - t0)) ms"
[ -z "$(dmsetup ls --target thin-pool 2>/dev/null | grep thinsnap)" ] || fail "a scratch pool is still loaded"
losetup -a | grep -q /tmp/cow && fail "a scratch loop device is still attached"

step "the CSV parses and is consistent"
CSV=/tmp/out/cow.csv
head -1 "$CSV" | grep -q '^experiment,pool_block_bytes,io_bytes,stride_bytes,depth,ios,iops,mib_per_s,lat_min_us,' ||
  fail "CSV header"
# 2 block sizes x 3 I/O sizes x (raw, first, owned, cow) + chain depths 0,1,4,16 + raw read
check_eq "$(($(wc -l < "$CSV") - 1))" 29 "CSV rows"
awk -F, 'NR > 1 {
    if (NF != 13) { print "line " NR ": " NF " fields"; bad = 1 }
    for (i = 6; i <= 13; i++) if ($i !~ /^[0-9]+(\.[0-9]+)?$/ || $i + 0 <= 0) { print "line " NR " field " i ": " $i; bad = 1 }
    if ($6 < 8) { print "line " NR ": only " $6 " I/Os"; bad = 1 }
    if ($1 ~ /write/ && $4 != ($2 > $3 ? $2 : $3)) { print "line " NR ": stride " $4; bad = 1 }
  } END { exit bad }' "$CSV" || fail "CSV rows malformed"
for exp in first_write owned_write cow_write raw_write; do
  check_eq "$(grep -c "^$exp," "$CSV")" 6 "$exp rows"
done
# The latencies are printed for the reader, not asserted: the minimum latency of one small run on
# an emulated, shared host is noise (CI saw CoW 597us below owned 1273us). Speed belongs to
# the benchmark's own results (vm-tests/bench/results/), never to a pass/fail test.
lat() { awk -F, -v e="$1" -v b="$2" -v s="$3" -v f="$4" '$1 == e && $2 == b && $3 == s { print $f }' "$CSV"; }
for b in 65536 262144; do
  echo "block $b, 4K writes: min latency cow $(lat cow_write $b 4096 9)us, owned $(lat owned_write $b 4096 9)us; p50 cow $(lat cow_write $b 4096 11)us, owned $(lat owned_write $b 4096 11)us"
done
check_eq "$(awk -F, '$1 == "chain_read" { printf "%s ", $5 }' "$CSV")" "0 1 4 16 " "chain depths"

step "the table and the SVG"
cat /tmp/out/cow.txt
grep -q 'writes, pool block 64K' /tmp/out/cow.txt || fail "table lacks the 64K block"
grep -q 'random 4K reads against snapshot chain depth' /tmp/out/cow.txt || fail "table lacks the chain"
SVG=/tmp/out/cow.svg
head -1 "$SVG" | grep -q '^<svg xmlns="http://www.w3.org/2000/svg"' || fail "SVG root element"
# Well-formed: every element closed in order (no text contains '<' or '>').
tr '\n' ' ' < "$SVG" | awk '{
    s = $0
    while (match(s, /<[^>]*>/)) {
      t = substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH)
      if (t ~ /\/$/) continue
      split(t, w, /[ \t]/)
      if (substr(t, 1, 1) == "/") { if (n == 0 || stack[n] != substr(w[1], 2)) { print "unbalanced </" substr(w[1], 2) ">"; exit 1 } n-- }
      else stack[++n] = w[1]
      tags++
    }
    if (n != 0) { print n " unclosed elements"; exit 1 }
    print tags " elements, balanced"
  }' || fail "SVG is not well-formed"
check_eq "$(grep -c '<polyline' "$SVG")" 11 "SVG series (2 panels x 4 + chain 3)"

step "the current pool, 128K blocks"
run ts pool create --loopback --data-size 512M --metadata-size 16M --base-size 16M --block-size 128k
run ts volume create keep --size 8M --fs none
ts bench cow --small --csv /tmp/cur.csv > cur.txt || fail "bench cow on the current pool"
cat cur.txt
grep -q 'no raw baseline' cur.txt || fail "the missing baseline is not said"
check_eq "$(awk -F, 'NR > 1 && $2 != 131072' /tmp/cur.csv | wc -l)" 0 "rows not at the pool's 128K"
check_eq "$(awk -F, 'NR > 1' /tmp/cur.csv | wc -l)" 13 "current-pool CSV rows (3 x 3 writes, 4 reads)"
ts ls | grep -q bench-cow && fail "bench-cow devices left in the pool"
ts ls | grep -q keep || fail "the user's volume is gone"
run ts pool check
run ts pool deactivate
thin_check_pool_meta "$R/metadata"
run ts pool activate
run ts pool destroy --force
echo "bench_cow: ok"
