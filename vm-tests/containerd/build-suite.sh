#!/bin/bash
# build-suite.sh OUT: builds containerd's snapshotter test suite against thinsnap
# (snapshotter_suite_test.go) into the static test binary OUT, with Debian's Go in GOPATH mode
# over Debian's containerd source (/usr/share/gocode). Run by CMake (target containerd_suite).
set -euo pipefail
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gopath=$(mktemp -d "${TMPDIR:-/tmp}/thinsnap-gopath.XXXXXX")
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/thinsnap/vmtest"
cp "$here/snapshotter_suite_test.go" "$gopath/src/thinsnap/vmtest/"
cd "$gopath/src/thinsnap/vmtest"
GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" CGO_ENABLED=0 GOFLAGS='' \
  go test -c -o "$out" .
