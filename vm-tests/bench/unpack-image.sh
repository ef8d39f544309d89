#!/bin/bash
# vm-tests/bench/unpack-image.sh DIR: writes the test image of vm-tests/bench/unpack.sh into DIR,
# the same bytes on every host (so the same layer digests):
#   DIR/layers/layerN.tar   5 uncompressed layer tars, 242 MB in all, 6,696 entries
#   DIR/layers.txt          one line per layer, in order: FILE DIGEST BYTES ENTRIES WHAT
#   DIR/image.tar           an OCI image layout archive of them, named thinsnap.bench/unpack:1,
#                           for `ctr image import`
# Contents, as an image is typically built: 1 an OS (4,000 files of 512 B - 64 KiB, log-uniform,
# plus a dozen 1-2 MiB libraries, symlinks and hard links), 2 a language runtime (a few files of
# 2-12 MiB), 3 packages (200 files of 16 KiB - 1 MiB) that also rewrite 100 files of layer 1,
# 4 an application (1,500 small files and a 16 MiB one) that deletes 200 files of layer 1
# (whiteouts) and replaces one directory (an opaque whiteout), 5 configuration (200 small files)
# that rewrites one file of layer 2. File data is cut from one AES-128-CTR keystream with a fixed
# key (openssl), so it does not compress; sizes and names come from a Park-Miller generator in awk.
# Tars are GNU tar --format=posix, sorted, owner 0:0, one fixed mtime. Takes ~1 minute.
set -euo pipefail

OUT=${1:?usage: unpack-image.sh DIR}
POOL_MB=256
mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/thinsnap-unpack-image.XXXXXX")
trap 'rm -rf "$W"' EXIT
umask 022

echo "unpack-image: a ${POOL_MB} MiB keystream (openssl aes-128-ctr, fixed key)"
head -c $((POOL_MB << 20)) /dev/zero |
  openssl enc -aes-128-ctr -nosalt -K 7468696e736e61702d756e7061636b31 -iv 00000000000000000000000000000000 >"$W/pool"

# The plan: one line per entry, "LAYER KIND PATH [SIZE|TARGET]", KIND f (file), F (executable),
# l (symlink to TARGET), h (hard link to TARGET), w (whiteout of PATH), o (opaque directory PATH).
awk '
  function rnd() { seed = (16807 * seed) % 2147483647; return seed / 2147483647 }
  function logu(a, b) { return int(exp(log(a) + rnd() * (log(b) - log(a)))) }
  function pick(n) { return int(rnd() * n) }
  BEGIN {
    seed = 20261203
    # 1: the OS.
    for (i = 0; i < 4000; i++) {
      d = i % 40
      p = sprintf("usr/lib/pkg%02d/f%04d.so", d, i)
      print 1, (i % 7 == 0 ? "F" : "f"), p, logu(512, 65536)
      os[i] = p
    }
    for (i = 0; i < 12; i++) print 1, "f", sprintf("usr/lib/libbig%02d.so.1", i), logu(1048576, 2097152)
    for (i = 0; i < 200; i++) print 1, "l", sprintf("usr/bin/tool%03d", i), "../lib/pkg" sprintf("%02d", i % 40) "/f" sprintf("%04d", i) ".so"
    for (i = 0; i < 20; i++) print 1, "h", sprintf("usr/lib/pkg%02d/hardlink%02d", i, i), os[i * 40 + i]
    for (i = 0; i < 60; i++) print 1, "f", sprintf("etc/conf%02d", i), logu(64, 4096)
    # 2: the runtime.
    for (i = 0; i < 4; i++) print 2, "F", sprintf("opt/runtime/bin/rt%d", i), 12097152
    for (i = 0; i < 8; i++) print 2, "f", sprintf("opt/runtime/lib/module%d.bin", i), 2097152
    # 3: packages, and rewritten files of layer 1.
    for (i = 0; i < 200; i++) print 3, "f", sprintf("usr/share/pkg%02d/data%03d", i % 20, i), logu(16384, 1048576)
    for (i = 0; i < 100; i++) print 3, "f", os[pick(4000)], logu(512, 65536)
    # 4: the application; deletes 200 files of layer 1 and replaces usr/lib/pkg39.
    for (i = 0; i < 1500; i++) print 4, "f", sprintf("app/mod%02d/src%04d.py", i % 30, i), logu(1024, 65536)
    print 4, "F", "app/bin/app", 16777216
    for (i = 0; i < 200; i++) { k = pick(4000); if (k % 40 != 39 && !(k in gone)) { gone[k] = 1; print 4, "w", os[k] } }
    print 4, "o", "usr/lib/pkg39"
    for (i = 0; i < 10; i++) print 4, "f", sprintf("usr/lib/pkg39/new%02d.so", i), logu(4096, 65536)
    # 5: configuration; rewrites one runtime module.
    for (i = 0; i < 200; i++) print 5, "f", sprintf("etc/app/c%03d.conf", i), logu(256, 4096)
    print 5, "f", "opt/runtime/lib/module3.bin", 2097152
  }' >"$W/plan"

WHAT=("" os runtime packages app config)
OFFSET=0 POOL_BYTES=$((POOL_MB << 20))
# put_file PATH SIZE: PATH gets SIZE bytes of the keystream, from where the last file ended.
put_file() {
  mkdir -p "${1%/*}"
  ((OFFSET + $2 <= POOL_BYTES)) || OFFSET=$((OFFSET % 4093))
  dd if="$W/pool" of="$1" bs=1M skip="$OFFSET" count="$2" iflag=skip_bytes,count_bytes status=none
  OFFSET=$((OFFSET + $2 + 4097))
}

echo "unpack-image: writing the files"
for n in 1 2 3 4 5; do mkdir -p "$W/l$n"; done
while read -r layer kind path arg; do
  cd "$W/l$layer"
  case $kind in
    f | F) put_file "$path" "$arg"; [[ $kind == f ]] || chmod 755 "$path" ;;
    l) mkdir -p "${path%/*}"; ln -s "$arg" "$path" ;;
    h) ln "$arg" "$path" ;;
    w) mkdir -p "${path%/*}"; : >"${path%/*}/.wh.${path##*/}" ;;
    o) mkdir -p "$path"; : >"$path/.wh..wh..opq" ;;
  esac
done <"$W/plan"
cd "$W"

mkdir -p "$OUT/layers" "$W/oci/blobs/sha256"
: >"$OUT/layers.txt"
layers_json="" diffs_json=""
for n in 1 2 3 4 5; do
  mapfile -t top < <(cd "$W/l$n" && LC_ALL=C ls -A)
  tar -C "$W/l$n" --sort=name --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --mtime=@1764720000 --owner=0 --group=0 --numeric-owner -cf "$OUT/layers/layer$n.tar" \
    "${top[@]}"
  sha=$(sha256sum "$OUT/layers/layer$n.tar" | cut -d' ' -f1)
  size=$(stat -c %s "$OUT/layers/layer$n.tar")
  entries=$(tar -tf "$OUT/layers/layer$n.tar" | wc -l)
  echo "layer$n.tar sha256:$sha $size $entries ${WHAT[$n]}" | tee -a "$OUT/layers.txt"
  cp "$OUT/layers/layer$n.tar" "$W/oci/blobs/sha256/$sha"
  layers_json+="${layers_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$sha\",\"size\":$size}"
  diffs_json+="${diffs_json:+,}\"sha256:$sha\""
done

# blob FILE MEDIATYPE: FILE into the layout under its digest; prints its descriptor.
blob() {
  local sha size
  sha=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$W/oci/blobs/sha256/$sha"
  printf '{"mediaType":"%s","digest":"sha256:%s","size":%d}' "$2" "$sha" "$size"
}
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":["/app/bin/app"]},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[{"created_by":"vm-tests/bench/unpack-image.sh"}]}' \
  "$diffs_json" >"$W/config.json"
config=$(blob "$W/config.json" application/vnd.oci.image.config.v1+json)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
  "$config" "$layers_json" >"$W/manifest.json"
manifest=$(blob "$W/manifest.json" application/vnd.oci.image.manifest.v1+json)
printf '{"schemaVersion":2,"manifests":[%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"thinsnap.bench/unpack:1","org.opencontainers.image.ref.name":"1"}}]}' \
  "${manifest%\}}" >"$W/oci/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$W/oci/oci-layout"
tar -C "$W/oci" --sort=name --mtime=@1764720000 --owner=0 --group=0 --numeric-owner \
  -cf "$OUT/image.tar" oci-layout index.json blobs
manifest=${manifest#*\"digest\":\"}
echo "unpack-image: $OUT/image.tar $(stat -c %s "$OUT/image.tar") bytes, manifest ${manifest%%\"*}"
