#!/bin/bash
# The built thinsnap as a new user meets it, on any host (no device-mapper needed):
# unknown command words exit 2 and are named (also with --help after them); read commands on a
# root that does not exist say so, exit 1 and create nothing; on a kernel without device-mapper
# pool create says so in one line and leaves no trace.
#   cli_first_contact_test.sh THINSNAP
set -uo pipefail

bin=$1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/thinsnap-cli.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
failures=0 checks=0

# expect STATUS MESSAGE ARGS...: exit status and one stderr line, exactly.
expect() {
  local want_status=$1 want_err=$2 status err
  shift 2
  err=$("$bin" "$@" 2>&1 >/dev/null)
  status=$?
  checks=$((checks + 1))
  if [[ $status != "$want_status" || $err != "$want_err" ]]; then
    echo "FAIL: thinsnap $*: exit $status, stderr '$err'; want exit $want_status, '$want_err'"
    failures=$((failures + 1))
  fi
}

# expect_absent PATH WHAT: PATH must not exist.
expect_absent() {
  checks=$((checks + 1))
  if [[ -e $1 ]]; then
    echo "FAIL: $2 left $1: $(ls -A "$1")"
    failures=$((failures + 1))
  fi
}

expect 2 "thinsnap: unknown command 'crate' (did you mean 'create'?)" pool crate
expect 2 "thinsnap: unknown command 'crate' (did you mean 'create'?)" pool crate --help
expect 2 "thinsnap: unknown command 'nosuchcmd' (see thinsnap --help)" nosuchcmd
expect 2 "thinsnap: unknown command 'nosuchcmd' (see thinsnap --help)" nosuchcmd --help
expect 2 "thinsnap: unknown command 'lss' (did you mean 'ls'?)" --root "$scratch/x" lss
expect 2 "thinsnap: unknown command 'lss' (did you mean 'ls'?)" -v --json --root "$scratch/x" lss
expect 2 "thinsnap: unknown command 'crate' (did you mean 'create'?)" --root /tmp container crate c
expect_absent "$scratch/x" "an unknown command"

missing="$scratch/new"
no_pool="thinsnap: no thinsnap pool at $missing (create one with \`thinsnap pool create --loopback\`, or with --data DEV --metadata DEV)"
expect 1 "$no_pool" --root "$missing" ls
expect 1 "$no_pool" --root "$missing" inspect x
expect 1 "$no_pool" --root "$missing" pool status
expect 1 "$no_pool" --root "$missing" df
expect 1 "$no_pool" --root "$missing" diff x
expect 1 "$no_pool" --root "$missing" --json ls
expect 1 "$no_pool" --root "$missing" container create c --from l
expect_absent "$missing" "read commands"
# An existing directory that holds no thinsnap state is left as it is, too.
mkdir "$scratch/empty"
expect 1 "thinsnap: no thinsnap pool at $scratch/empty (create one with \`thinsnap pool create --loopback\`, or with --data DEV --metadata DEV)" \
  --root "$scratch/empty" pool check
checks=$((checks + 1))
if [[ -n $(ls -A "$scratch/empty") ]]; then
  echo "FAIL: pool check wrote into $scratch/empty: $(ls -A "$scratch/empty")"
  failures=$((failures + 1))
fi

# On a kernel without device-mapper (these build machines), pool create says so in one line and
# leaves no trace; -v adds libdevmapper's own words.
if [[ ! -e /sys/class/misc/device-mapper && ! -e /sys/module/dm_mod ]]; then
  nodm="$scratch/nodm"
  expect 1 "thinsnap: this kernel has no device-mapper (dm_mod is not loaded; /dev/mapper/control has no driver): load it with \`modprobe dm_thin_pool\`, or run thinsnap on a kernel that has it (e.g. in the VM of vm-tests/run: see README, Quick start)" \
    --root "$nodm" pool create --loopback --data-size 1G
  expect_absent "$nodm" "a pool create without device-mapper"
  checks=$((checks + 1))
  verbose=$("$bin" -v --root "$nodm" pool create --loopback --data-size 1G 2>&1)
  if ! grep -q "^device-mapper: " <<<"$verbose"; then
    echo "FAIL: -v shows no device-mapper detail"
    failures=$((failures + 1))
  fi
  expect_absent "$nodm" "a pool create -v without device-mapper"
fi

# Known commands still parse: --help of a real subcommand exits 0.
checks=$((checks + 1))
if ! "$bin" pool create --help >/dev/null; then
  echo "FAIL: thinsnap pool create --help"
  failures=$((failures + 1))
fi
echo "$checks checks, $failures failures"
((failures == 0))
