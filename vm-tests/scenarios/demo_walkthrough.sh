#!/bin/sh
# Description: the README's main job: pool, base layer from a busybox rootfs tar, a second layer, container, /TEST, diff, commit, second container, df
# VM-Args: --mem 3072
set -u
. /vm/lib/common.sh
R=/tmp/thinsnap-demo
FS=${1:-ext4}
ts() { echo "\$ thinsnap $*" >&2; thinsnap --root "$R" "$@"; }

step "1. a loopback thin pool (64 KiB blocks, $FS base device)"
ts pool create --loopback --data-size 4G --metadata-size 64M --base-size 512M --fs "$FS" || fail "pool create"
ts pool status || fail "pool status"

step "2. a base layer from a real root filesystem tarball (busybox-static)"
mkdir -p rootfs/bin rootfs/etc rootfs/tmp rootfs/root
cp "$(command -v busybox)" rootfs/bin/busybox
for applet in sh ls cat echo mkdir rm cp mv; do ln -s busybox "rootfs/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > rootfs/etc/passwd
echo 'demo' > rootfs/etc/hostname
echo 'to be deleted' > rootfs/etc/motd
(cd rootfs && tar -cf ../base.tar .) || fail "tar rootfs"
ts layer import base-os base.tar || fail "layer import base-os"

step "3. a second layer that adds and deletes files (whiteouts)"
mkdir -p l2/etc l2/opt/app
echo 'hello from layer 2' > l2/opt/app/README
: > l2/etc/.wh.motd
(cd l2 && tar -cf ../layer2.tar .) || fail "tar layer2"
ts layer import app --parent base-os layer2.tar || fail "layer import app"
ts diff app || fail "diff app"

step "4. a container from it, /TEST written inside"
ts container create web --from app || fail "container create"
M=$(ts mount web) || fail "mount web"
echo "Hello World" > "$M/TEST"
[ -e "$M/etc/motd" ] && fail "the whiteout did not delete /etc/motd"
check_eq "$(cat "$M/opt/app/README")" "hello from layer 2" "layer 2 content in the container"
ts diff web > web.diff || fail "diff web"
cat web.diff
grep -qx 'A /TEST' web.diff || fail "diff does not show A /TEST"

step "5. commit the container to a new layer; a second container sees /TEST"
ts commit web web-snapshot || fail "commit"
ts container create web2 --from web-snapshot || fail "container create web2"
M2=$(ts mount web2) || fail "mount web2"
check_eq "$(cat "$M2/TEST")" "Hello World" "/TEST in the second container"
A=$(ts mount app) || fail "mount app"
[ -e "$A/TEST" ] && fail "the original layer sees /TEST"
echo "layer 'app' has no /TEST: ok"
ts unmount app || fail "unmount app"

step "6. blocks shared between devices"
ts ls || fail "ls"
ts df || fail "df"

step "7. everything consistent"
ts pool check || fail "pool check"
ts unmount web2 && ts unmount web || fail "unmount"
ts pool deactivate || fail "pool deactivate"
thin_check_pool_meta "$R/metadata"
echo "demo: ok"
