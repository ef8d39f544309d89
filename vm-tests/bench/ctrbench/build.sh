#!/bin/bash
# build.sh OUT: builds ctrbench (main.go here) into the static binary OUT with Debian's Go in
# GOPATH mode over Debian's containerd source (/usr/share/gocode). Run by CMake (target ctrbench,
# for vm.containerd_concurrency).
set -euo pipefail
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gopath=$(mktemp -d "${TMPDIR:-/tmp}/thinsnap-gopath.XXXXXX")
trap 'rm -rf "$gopath"' EXIT
cd "$here"
GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" CGO_ENABLED=0 GOFLAGS='' go build -o "$out" .
