# Shared helpers for the command-line tests (tests/*/*_test.sh): source it
# after `set -euo pipefail`. Gives FRUGAL (the binary under test), a scratch
# directory $dir removed on exit, fail MESSAGE, and expect_error.
FRUGAL=${FRUGAL:?path of the frugal binary}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() { echo "FAIL: $*"; exit 1; }

# expect_error "message part" args...: frugal must exit 1 and say the message
# part on stderr (a crash, a hang-free success or another exit code fails).
expect_error() {
  local want=$1; shift
  set +e
  "$FRUGAL" "$@" >"$dir/out" 2>"$dir/err"
  local rc=$?
  set -e
  if [[ $rc -ne 1 ]]; then echo "FAIL: exit $rc (want 1) for: $*"; cat "$dir/err"; exit 1; fi
  if ! grep -q -- "$want" "$dir/err"; then echo "FAIL: no '$want' in stderr for: $*"; cat "$dir/err"; exit 1; fi
}
