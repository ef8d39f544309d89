# shellcheck shell=bash
# Host-side helpers of vm-tests/run that assemble the guest's initramfs (bash, sourced).
#
# The initramfs is two concatenated newc cpio archives (the kernel unpacks them in order, later
# files replacing earlier ones):
#   base: busybox, the filesystem and dm tools with their shared libraries and the kernel modules.
#         Cached in the vm-cache, keyed by the kernel and by name, size, mtime and inode of every
#         file it holds, so an upgraded tool or library rebuilds it.
#   run:  small and rebuilt for every boot: thinsnap and its libraries, the script and its
#         arguments, --include paths, the init and the guest helpers.
# Both are uncompressed: under TCG decompressing costs more boot time than copying does.

# Tools of the base image; each is looked up on the host PATH (plus sbin dirs).
BASE_TOOLS_REQUIRED=(
  busybox dash bash date
  mke2fs mkfs.ext4 e2fsck fsck.ext4 resize2fs tune2fs debugfs dumpe2fs
  mkfs.xfs xfs_repair xfs_growfs xfs_admin xfs_db xfs_io xfs_info xfs_spaceman
  blkid losetup blkdiscard wipefs dmsetup fio
  pdata_tools thin_check thin_dump thin_ls thin_delta thin_repair thin_restore thin_metadata_size
  lvm
)
# /bin/sh is dash, as on a Debian host: Debian's busybox-static shell runs its own applets in
# preference to PATH (its losetup has no --show), so it would hide the real tools. bash is there
# for scripts that want it; coreutils date because busybox date has no %N.
# Included when the host has them:
BASE_TOOLS_OPTIONAL=(
  mount umount lsblk findmnt fallocate fstrim flock xfs_freeze fsck.xfs
  thin_rmap thin_trim strace
  mkfs.btrfs btrfs
)

image_die() {
  echo "vm-tests/run: $*" >&2
  exit 1
}

tool_path() {
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$1" || true
}

# Paths already in the base image (filled by load_base_manifest); the run image skips them.
declare -A IN_BASE=()

# The path a host path has in the guest's merged-/usr tree.
guest_path() {
  case $1 in
    /bin/* | /sbin/* | /lib/* | /lib64/*) echo "/usr$1" ;;
    *) echo "$1" ;;
  esac
}

load_base_manifest() {
  local p
  while IFS= read -r p; do IN_BASE[$p]=1; done <"$1"
}

# stage_file STAGE PATH: copy the host file PATH to STAGE/PATH; a symlink is recreated as a
# symlink and its target is staged too (so multicall links such as thin_check stay links).
stage_file() {
  local stage=$1 path=$2 target
  [[ -e $stage$path || -L $stage$path ]] && return 0
  [[ -n ${IN_BASE[$(guest_path "$path")]:-} ]] && return 0
  mkdir -p "$stage${path%/*}"
  if [[ -L $path ]]; then
    target=$(readlink "$path")
    ln -s "$target" "$stage$path"
    [[ $target == /* ]] || target=${path%/*}/$target
    stage_file "$stage" "$target"
  else
    cp --preserve=mode,timestamps "$path" "$stage$path"
  fi
}

# shared_libs FILE...: the shared libraries and ELF interpreter the files need (one per line).
shared_libs() {
  (($# > 0)) || return 0
  ldd "$@" 2>/dev/null |
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\// && $i !~ /:$/) print $i }' | sort -u
}

# stage_with_libs STAGE FILE...: stage files and their shared libraries.
stage_with_libs() {
  local stage=$1 f
  shift
  for f in "$@"; do stage_file "$stage" "$f"; done
  while IFS= read -r f; do stage_file "$stage" "$f"; done < <(shared_libs "$@")
}

# A merged-/usr layout like Debian 12's, so library paths from ldd resolve whichever way they
# are spelled.
make_skeleton() {
  local stage=$1 d
  mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc,proc,sys,dev,run,tmp,root,mnt,vm}
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
  ln -s /proc/self/mounts "$stage/etc/mtab"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$stage/etc/passwd"
  printf 'root:x:0:\ndisk:x:6:\nnogroup:x:65534:\n' >"$stage/etc/group"
  echo 'hosts: files' >"$stage/etc/nsswitch.conf"
  echo '127.0.0.1 localhost thinsnap-vm' >"$stage/etc/hosts"
}

# Every busybox applet becomes a link unless a real tool of that name is already staged.
link_busybox_applets() {
  local stage=$1 applet
  ln -sf dash "$stage/usr/bin/sh"
  while IFS= read -r applet; do
    [[ -e $stage/usr/bin/$applet || -e $stage/usr/sbin/$applet ]] && continue
    ln -s busybox "$stage/usr/bin/$applet"
  done < <("$stage/usr/bin/busybox" --list)
}

base_tool_paths() {
  local t p
  for t in "${BASE_TOOLS_REQUIRED[@]}"; do
    p=$(tool_path "$t")
    [[ -n $p ]] || image_die "required tool '$t' not found on the host (run scripts/install-deps)"
    echo "$p"
  done
  for t in "${BASE_TOOLS_OPTIONAL[@]}"; do
    p=$(tool_path "$t")
    [[ -n $p ]] && echo "$p"
  done
  return 0
}

# The cache key of the base image: the kernel plus identity of every file that goes in.
base_key() {
  local kernel_dir=$1
  shift
  local -a libs
  mapfile -t libs < <(shared_libs "$@")
  {
    echo "$kernel_dir"
    sha256sum "${BASH_SOURCE[0]}"
    cat "$kernel_dir/modules.load"
    stat -L -c '%n %s %Y %i' "$@" "${libs[@]}"
  } | sha256sum | cut -c1-20
}

# write_cpio DIR OUT: DIR's tree as a newc archive owned by root.
write_cpio() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$2"
}

# build_base CACHE KERNEL_DIR: prints the path of the (cached) base archive; its file list is
# next to it, with .list instead of .cpio.
build_base() {
  local cache=$1 kernel_dir=$2 key
  local -a tools
  mapfile -t tools < <(base_tool_paths)
  key=$(base_key "$kernel_dir" "${tools[@]}")
  local out=$cache/base-$key.cpio
  if [[ ! -e $out ]]; then
    exec 8>"$cache/base.lock"
    flock 8
    if [[ ! -e $out ]]; then
      local stage
      stage=$(mktemp -d "$cache/.base-stage.XXXXXX")
      make_skeleton "$stage"
      # busybox first and at /usr/bin, where link_busybox_applets expects it.
      cp "$(tool_path busybox)" "$stage/usr/bin/busybox"
      stage_with_libs "$stage" "${tools[@]}"
      link_busybox_applets "$stage"
      mkdir -p "$stage/vm/modules"
      cp "$kernel_dir"/modules/*.ko "$stage/vm/modules/"
      cp "$kernel_dir/modules.load" "$stage/vm/modules.load"
      (cd "$stage" && find . -mindepth 1 ! -type d | sed 's/^\.//') >"$cache/base-$key.list"
      write_cpio "$stage" "$out.tmp.$$"
      mv -f "$out.tmp.$$" "$out"
      rm -rf "$stage"
      # Old bases are dropped after a week without use.
      find "$cache" -maxdepth 1 -name 'base-*' -atime +7 -delete 2>/dev/null || true
    fi
    exec 8>&-
  fi
  echo "$out"
}

is_elf() {
  [[ -f $1 && $(od -An -tx1 -N4 "$1" 2>/dev/null | tr -d ' \n') == 7f454c46 ]]
}

# stage_include STAGE PATH: a host file or directory at the same path, executables with their
# shared libraries.
stage_include() {
  local stage=$1 path elf=()
  path=$(realpath -s "$2")
  [[ -e $path ]] || image_die "--include $2: no such file or directory"
  mkdir -p "$stage$(dirname "$path")"
  cp -a "$path" "$stage$(dirname "$path")/"
  while IFS= read -r -d '' f; do
    is_elf "$f" && elf+=("$f")
  done < <(find "$path" -type f -perm /111 -print0)
  local lib
  while IFS= read -r lib; do stage_file "$stage" "$lib"; done < <(shared_libs "${elf[@]}")
}
