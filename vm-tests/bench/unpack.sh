#!/bin/bash
# vm-tests/bench/unpack.sh: how fast an image gets onto each snapshotter, in one VM boot.
# The image (vm-tests/bench/unpack-image.sh: 5 uncompressed layers, 242 MB, ~6,700 entries,
# incompressible file data, the same bytes on every host) is made here and handed to the guest
# on a disk; the guest copies it into its tmpfs first, so every contender reads from memory.
#   containerd  one Debian containerd 1.6.20 with three snapshotters: thinsnap (`thinsnap serve`
#               as proxy snapshotter), containerd's devmapper snapshotter (a pool of the same
#               settings on devices of the same kind: 64 KiB blocks, skip_block_zeroing, 1 GiB
#               ext4 base, emulated NVMe) and overlayfs (on ext4). The two steps of `ctr image
#               import --snapshotter X` one at a time: `ctr image import --no-unpack` (the content
#               ingest, once) and the unpack into each (vm-tests/bench/unpackbench: Image.Unpack
#               through containerd's Go client; ctr 1.6 has no `image unpack`), then two rounds of
#               that unpack step by step (unpackbench -split: the snapshotter's Prepare, the diff
#               service's Apply, the snapshotter's Commit, each timed), the order rotated so each
#               snapshotter goes first once; the unpack's figure is the median of its three.
#               Every unpacked tree is checked equal.
#   layers      on a fresh thinsnap pool, layer by layer: `thinsnap layer import` of the layer's
#               tar against GNU tar -x of the same tar onto a fresh thinsnap layer device, timed
#               alone, with the sync after it, and with the device work around it (`layer
#               create` + `mount`, `unmount` + `layer seal`: what `layer import` does inside).
# The guest drops the page cache (after a sync) before every timed step; the host's load
# average is sampled during the run and goes into the log and the table.
#
# Usage: vm-tests/bench/unpack.sh [--out DIR]
#        vm-tests/bench/unpack.sh --render LOG [--out DIR]   (the tables and chart again)
# Prints the guest's log and three markdown tables (ratios to devmapper and overlayfs; the
# unpack's split into Prepare, Apply, Commit; layer import speed as a multiple of tar -x's) and
# the targets (layer import >= 0.8x tar -x, unpack through containerd >= 2x faster than
# devmapper) met or missed; writes build/bench/unpack.{md,svg,log}, and
# with --out DIR copies them there. The image is kept in build/bench/unpack-image/ (remade when
# unpack-image.sh changes). Needs a built tree (THINSNAP_BUILD_DIR, default <repo>/build, with
# the thinsnap-serve daemon; THINSNAP_BIN and THINSNAP_SERVE_BIN as for vm-tests/run), GNU tar
# and what scripts/install-deps installs (containerd, golang-go,
# golang-github-containerd-containerd-dev, e2fsprogs, openssl).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${THINSNAP_BUILD_DIR:-$REPO/build}
CACHE=${THINSNAP_VM_CACHE:-$BUILD_DIR/vm-cache}
REF=thinsnap.bench/unpack:1
OUT="" RENDER=""

die() {
  echo "unpack.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
    --out) (($# >= 2)) || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --render) (($# >= 2)) || die "--render needs a log"; RENDER=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
B=$BUILD_DIR/bench
LOG=$B/unpack.log TABLE=$B/unpack.md SVG=$B/unpack.svg
mkdir -p "$B"

# make_image: build/bench/unpack-image/ and the ext4 disk image of it, unless they are current.
make_image() {
  local dir=$B/unpack-image disk=$B/unpack-image.ext4 stamp
  stamp=$(sha256sum "$HERE/unpack-image.sh" | cut -d' ' -f1)
  if [[ ! -s $disk || $(cat "$dir/.stamp" 2>/dev/null) != "$stamp" ]]; then
    rm -rf "$dir" "$disk"
    "$HERE/unpack-image.sh" "$dir" || die "unpack-image.sh failed"
    local mb
    mb=$(du -sm "$dir" | cut -f1)
    mkfs.ext4 -q -F -L unpack-image -d "$dir" "$disk" "$((mb + mb / 4 + 64))M" ||
      die "mkfs.ext4 -d of the image failed"
    echo "$stamp" >"$dir/.stamp"
  fi
  DISK=$disk
}

# run_vm: builds unpackbench and the image, runs the guest, writes $LOG.
run_vm() {
  THINSNAP_BIN=${THINSNAP_BIN:-$BUILD_DIR/cli/thinsnap}
  SERVE_BIN=${THINSNAP_SERVE_BIN:-$(dirname "$THINSNAP_BIN")/../services/thinsnap-serve}
  [[ -x $THINSNAP_BIN ]] || die "$THINSNAP_BIN not built"
  [[ -x $SERVE_BIN ]] || die "$SERVE_BIN (the daemon of thinsnap serve) not built"
  for b in containerd ctr go openssl mkfs.ext4; do
    command -v "$b" >/dev/null || die "$b missing (run scripts/install-deps)"
  done
  tar --version | head -n 1 | grep -q 'GNU tar' || die "tar is not GNU tar"
  local ub=$B/unpackbench gopath
  echo "building $ub (Go $(go env GOVERSION), GOPATH mode against /usr/share/gocode)"
  gopath=$(mktemp -d "${TMPDIR:-/tmp}/thinsnap-gopath.XXXXXX")
  # GOPATH mode builds a directory outside GOPATH only by a relative path.
  (cd "$HERE/unpackbench" && GO111MODULE=off GOPATH=$gopath:/usr/share/gocode CGO_ENABLED=0 \
    GOFLAGS="" go build -o "$ub" .) || { rm -rf "$gopath"; die "go build of unpackbench failed"; }
  rm -rf "$gopath"
  make_image
  export THINSNAP_BUILD_DIR=$BUILD_DIR THINSNAP_VM_CACHE=$CACHE THINSNAP_BIN THINSNAP_SERVE_BIN=$SERVE_BIN
  # The host's 1-minute load average every 30 s: the contenders run one after the other, so a
  # host shared with other work can tilt their ratios; the log says how loaded it was.
  local loads=$B/unpack.load
  : >"$loads"
  (while :; do cut -d' ' -f1 /proc/loadavg >>"$loads"; sleep 30; done) &
  SAMPLER=$!
  trap 'kill "$SAMPLER" 2>/dev/null || true' EXIT
  "$REPO/vm-tests/run" --mem 4096 --timeout 7200 --nvme 4G --nvme 256M --nvme 8G --nvme 4G --nvme 256M \
    --disk "$DISK" \
    --include /usr/bin/containerd --include /usr/bin/ctr --include "$ub" --include "$(command -v tar)" \
    --include "$(command -v openssl)" \
    "$HERE/unpack-guest.sh" "$ub" "$REF" | tee "$LOG"
  kill "$SAMPLER"
  trap - EXIT
  sort -n "$loads" | awk -v cpus="$(nproc)" '{ v[++n] = $1 } END {
      printf "host: %d CPUs, load average (1 min, every 30 s of the run) min %s median %s max %s\n",
        cpus, v[1], v[int((n + 1) / 2)], v[n] }' | tee -a "$LOG"
  grep -q '^unpack: done' "$LOG" || die "the guest did not finish (see $LOG)"
}

if [[ -n $RENDER ]]; then
  [[ -f $RENDER ]] || die "--render $RENDER: no such log"
  [[ $RENDER -ef $LOG ]] || cp "$RENDER" "$LOG"
else
  run_vm
fi

# The results as "LABEL STEP MS" lines, the layers as "N FILE BYTES ENTRIES WHAT".
RESULTS=$(awk '$1 == "result" { split($4, kv, "="); print $2, $3, kv[2] }' "$LOG")
LAYERS=$(awk '$1 == "layer" {
    for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    print substr($2, 2), $3, v["bytes"], v["entries"], v["what"] }' "$LOG")
TREES=$(awk '$1 == "tree" { print $2 "/" $3 "=" $4 }' "$LOG" | tr '\n' ' ')
HOST=$(sed -n 's/^host: //p' "$LOG" | tail -n 1)
[[ -n $RESULTS ]] || die "no result lines in $LOG"

# What the tables and the chart share: the results read into ms[LABEL, STEP], the layers, and
# derive(): per snapshotter the unpack samples (Image.Unpack and each step-by-step run's sum) and
# their median um[] (run[SN, K]: the K-th sample, the same round for every snapshotter), the step-by-step parts averaged over the runs sp[SN, prepare|apply|commit],
# and the layer part's sums L[import|tar-x|tar-x+sync|device].
# shellcheck disable=SC2016 # awk code, not shell
COMMON='
  FNR == NR {
    ms[$1, $2] = $3
    if ($2 == "unpack") order[++nsn] = $1
    if ($2 ~ /^split[0-9]+-/) {
      r = substr($2, 6) + 0; part = substr($2, index($2, "-") + 1)
      if (r > nrep[$1]) nrep[$1] = r
      rsum[$1, r] += $3; psum[$1, part] += $3
    }
    next
  }
  { nl++; file[nl] = $2; bytes[nl] = $3; entries[nl] = $4; what[nl] = $5; total += $3 }
  function s(v) { return sprintf("%.2f", v / 1000) }
  function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "-" }
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function derive(   i, r, sn, n, x, k) {
    for (i = 1; i <= nsn; i++) {
      sn = order[i]
      split("", x)
      n = 1; x[1] = ms[sn, "unpack"]; samples[sn] = s(x[1]); run[sn, 1] = x[1]
      for (r = 1; r <= nrep[sn]; r++) {
        x[++n] = rsum[sn, r]; run[sn, n] = x[n]; samples[sn] = samples[sn] ", " s(rsum[sn, r])
      }
      nsamples[sn] = n
      um[sn] = median(x, n)
      for (k = 1; k <= 3; k++) {
        part = k == 1 ? "prepare" : k == 2 ? "apply" : "commit"
        sp[sn, part] = nrep[sn] > 0 ? psum[sn, part] / nrep[sn] : 0
      }
    }
    for (i = 1; i <= nl; i++) {
      L["import"] += ms["layers", "import:L" i]; L["tar-x"] += ms["layers", "tar-x:L" i]
      L["tar-x+sync"] += ms["layers", "tar-x+sync:L" i]
      L["setup"] += ms["layers", "tar-setup:L" i]; L["teardown"] += ms["layers", "tar-teardown:L" i]
      L["sha256"] += ms["layers", "sha256:L" i]
    }
    L["device"] = L["setup"] + L["teardown"]; L["cycle"] = L["device"] + L["tar-x+sync"]
  }
  # ingest(SN): the content ingest: one for all when one containerd had them all.
  function ingest(sn) { return ((sn, "ingest") in ms) ? ms[sn, "ingest"] : ms["containerd", "ingest"] }
  function sum_entries(   i, e) { for (i = 1; i <= nl; i++) e += entries[i]; return e }
'

tables() {
  awk -v trees="$TREES" -v host="$HOST" "$COMMON"'
    END {
      derive()
      n = split(trees, t, " ")
      for (i = 1; i <= n; i++) { split(t[i], kv, "="); tree[kv[1]] = kv[2]; distinct[kv[2]] = 1 }
      nd = 0
      for (d in distinct) nd++
      mb = total / 1e6
      printf "Image: %d layers, %.1f MB uncompressed (%s entries).\n\n", nl, mb, sum_entries()
      print "containerd (s; " (("containerd", "ingest") in ms ? "one containerd with the three snapshotters, the" \
        " content ingested once" : "one fresh containerd per snapshotter") "). `ctr image import` is ingest + unpack;" \
        " the unpack was timed " (nsamples["thinsnap"] > 1 ? nsamples["thinsnap"] " times per snapshotter:" \
        " Image.Unpack, then the same steps one by one (the next table), the order rotated between rounds" : "once") \
        "; ratios are of the medians:\n"
      print "| snapshotter | ingest (--no-unpack) s | unpack runs s | unpack median s | unpack MB/s |" \
        " unpack x devmapper | faster than devmapper | x devmapper, run by run | unpack x overlayfs | ingest + unpack s |" \
        " ingest + unpack x devmapper |"
      print "|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|"
      for (i = 1; i <= nsn; i++) {
        sn = order[i]; u = um[sn]; iu = ingest(sn) + u
        # Run by run: each sample against the devmapper sample of its round (the host load moves between rounds).
        byrun = ratio(run[sn, 1], run["devmapper", 1])
        for (k = 2; k <= nsamples[sn]; k++) byrun = byrun ", " ratio(run[sn, k], run["devmapper", k])
        printf "| %s | %s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s |\n", sn, s(ingest(sn)), samples[sn], s(u),
          (u > 0 ? mb / (u / 1000) : 0), ratio(u, um["devmapper"]), ratio(um["devmapper"], u), byrun,
          ratio(u, um["overlayfs"]), s(iu), ratio(iu, ingest("devmapper") + um["devmapper"])
      }
      print "\nWhere the unpack'"'"'s time goes (unpackbench -split: the same unpack step by step through the same" \
        " client API, s summed over the layers, averaged over the runs; Apply = containerd'"'"'s diff service mounting" \
        " the snapshot, writing the layer'"'"'s files and unmounting it):\n"
      print "| snapshotter | runs | Prepare s | Apply s | Commit s | Prepare + Commit ms per layer |" \
        " Prepare + Commit x devmapper | Apply x devmapper | Prepare + Commit share |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
      dpc = sp["devmapper", "prepare"] + sp["devmapper", "commit"]
      for (i = 1; i <= nsn; i++) {
        sn = order[i]
        if (nrep[sn] == 0) continue
        pc = sp[sn, "prepare"] + sp[sn, "commit"]; ap = sp[sn, "apply"]
        printf "| %s | %d | %s | %s | %s | %.0f | %s | %s | %.1f%% |\n", sn, nrep[sn], s(sp[sn, "prepare"]), s(ap),
          s(sp[sn, "commit"]), pc / nl, ratio(pc, dpc), ratio(ap, sp["devmapper", "apply"]), 100 * pc / (pc + ap)
      }
      print "\nthinsnap layer import against GNU tar -x onto a fresh thinsnap layer device (s; speed = tar time / import" \
        " time; device = `layer create` + `mount` before tar and `unmount` + `layer seal` after it, the device work" \
        " that `layer import` does inside; cycle = device + tar -x + sync; sha256 = `openssl dgst -sha256` of the" \
        " tar, the digest layer import takes of what it applies and tar -x does not):\n"
      print "| layer | what | MB | entries | layer import s | tar -x s | tar -x + sync s | device s | cycle s |" \
        " sha256 s | import speed x tar -x | x tar -x + sync | x cycle |"
      print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= nl; i++) {
        im = ms["layers", "import:L" i]; tx = ms["layers", "tar-x:L" i]; ts = ms["layers", "tar-x+sync:L" i]
        dv = ms["layers", "tar-setup:L" i] + ms["layers", "tar-teardown:L" i]
        printf "| L%d | %s | %.1f | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", i, what[i], bytes[i] / 1e6,
          entries[i], s(im), s(tx), s(ts), s(dv), s(dv + ts), s(ms["layers", "sha256:L" i]), ratio(tx, im),
          ratio(ts, im), ratio(dv + ts, im)
      }
      printf "| all | | %.1f | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mb, sum_entries(), s(L["import"]),
        s(L["tar-x"]), s(L["tar-x+sync"]), s(L["device"]), s(L["cycle"]), s(L["sha256"]),
        ratio(L["tar-x"], L["import"]), ratio(L["tar-x+sync"], L["import"]), ratio(L["cycle"], L["import"])
      ti = L["import"]; su = um["thinsnap"]; du = um["devmapper"]
      printf "\nTargets: layer import >= 0.8x the speed of tar -x: %s x tar -x (%s), %s x tar -x + sync (%s), " \
        "%s x the whole tar cycle (%s); unpack through containerd >= 2x faster than devmapper: %s x (%s).\n",
        ratio(L["tar-x"], ti), (ti > 0 && L["tar-x"] / ti >= 0.8) ? "met" : "missed",
        ratio(L["tar-x+sync"], ti), (ti > 0 && L["tar-x+sync"] / ti >= 0.8) ? "met" : "missed",
        ratio(L["cycle"], ti), (ti > 0 && L["cycle"] / ti >= 0.8) ? "met" : "missed",
        ratio(du, su), (su > 0 && du / su >= 2) ? "met" : "missed"
      # Equal only if every contender left its tree: the three unpacks and layer import'"'"'s.
      split("thinsnap/unpack devmapper/unpack overlayfs/unpack layers/import", want, " ")
      missing = ""
      for (i = 1; i <= 4; i++) if (!(want[i] in tree)) missing = missing " " want[i]
      printf "Unpacked trees (tar digest of names, modes, sizes, links, contents): %s%s\n", trees,
        (missing != "" ? "(NOT checked: no tree of" missing ")" : nd == 1 ? "(all equal)" : "(NOT all equal)")
      if (host != "") printf "Host: %s.\n", host
    }' <(echo "$RESULTS") <(echo "$LAYERS")
}

chart() {
  awk "$COMMON"'
    END {
      derive()
      printf "title\tUnpacking a %.0f MB, %d-layer image\n", total / 1e6, nl
      printf "subtitle\tQEMU TCG VM, 2 vCPUs, one boot, emulated NVMe, input in tmpfs, caches dropped before each step;\n"
      printf "subtitle\tcompare ratios only. Lower is better.\n"
      printf "panel\tcontainerd: ctr image import --no-unpack, then the unpack into the snapshotter (median)\ts\n"
      for (i = 1; i <= nsn; i++) {
        sn = order[i]
        printf "bar\t%s\tunpack %sx devmapper, %sx overlayfs\n", sn, ratio(um[sn], um["devmapper"]),
          ratio(um[sn], um["overlayfs"])
        printf "seg\tingest\t%.2f\nseg\tunpack\t%.2f\n", ingest(sn) / 1000, um[sn] / 1000
      }
      printf "panel\tThe unpack step by step: Prepare, Apply (mount, write files, unmount), Commit\ts\n"
      dpc = sp["devmapper", "prepare"] + sp["devmapper", "commit"]
      for (i = 1; i <= nsn; i++) {
        sn = order[i]
        if (nrep[sn] == 0) continue
        pc = sp[sn, "prepare"] + sp[sn, "commit"]
        printf "bar\t%s\tPrepare + Commit %sx devmapper, Apply %sx\n", sn, ratio(pc, dpc),
          ratio(sp[sn, "apply"], sp["devmapper", "apply"])
        printf "seg\tPrepare\t%.2f\nseg\tApply\t%.2f\nseg\tCommit\t%.2f\n", sp[sn, "prepare"] / 1000,
          sp[sn, "apply"] / 1000, sp[sn, "commit"] / 1000
      }
      printf "panel\tOne layer after the other onto thinsnap devices (all %d layers)\ts\n", nl
      printf "bar\tthinsnap layer import\tspeed %sx tar -x, %sx tar -x + sync, %sx cycle\n", ratio(L["tar-x"], L["import"]),
        ratio(L["tar-x+sync"], L["import"]), ratio(L["cycle"], L["import"])
      printf "seg\tlayer import\t%.2f\n", L["import"] / 1000
      printf "bar\tGNU tar -x, sha256\tcycle %.1f s (create + mount, tar -x, sync, unmount + seal), then sha256\n",
        L["cycle"] / 1000
      printf "seg\tdevice setup\t%.2f\nseg\ttar -x\t%.2f\nseg\tsync\t%.2f\nseg\tdevice teardown\t%.2f\n",
        L["setup"] / 1000, L["tar-x"] / 1000, (L["tar-x+sync"] - L["tar-x"]) / 1000, L["teardown"] / 1000
      printf "seg\tsha256 of the tars (openssl)\t%.2f\n", L["sha256"] / 1000
    }' <(echo "$RESULTS") <(echo "$LAYERS") | "$HERE/bars-svg.sh"
}

# strace_table: the syscalls of layer L1's import and tar -x (strace -c -f, an untimed extra run
# of each), the most frequent of either, with the counts side by side.
strace_table() {
  awk '$1 == "strace" && NF == 5 && ($2 == "import" || $2 == "tar") {
      if (!(($3) in seen)) { seen[$3] = 1; if ($3 != "total") names[++n] = $3 }
      c[$2, $3] = $4; sec[$2, $3] = $5
    }
    END {
      if (n == 0) exit
      print "\nSyscalls of layer L1 (the small files), `strace -c -f -S calls` of an extra, untimed run of each onto a" \
        " fresh layer device (seconds are strace'"'"'s system time):\n"
      print "| syscall | layer import calls | tar -x calls | layer import s | tar -x s |"
      print "|---|---:|---:|---:|---:|"
      names[++n] = "total"
      for (i = 1; i <= n; i++)
        printf "| %s | %d | %d | %s | %s |\n", names[i], c["import", names[i]], c["tar", names[i]],
          sec["import", names[i]] == "" ? "-" : sec["import", names[i]], sec["tar", names[i]] == "" ? "-" : sec["tar", names[i]]
    }' "$LOG"
}

{
  tables
  strace_table
} | tee "$TABLE"
chart >"$SVG"
if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  cp "$TABLE" "$LOG" "$SVG" "$OUT/"
  echo "wrote $OUT/unpack.md, $OUT/unpack.svg and $OUT/unpack.log"
fi
