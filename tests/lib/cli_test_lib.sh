# Shared helpers for the command-line tests (tests/*/*_test.sh): source it
# after `set -euo pipefail`. Gives FRUGAL (the binary under test), a scratch
# directory $dir removed on exit, fail MESSAGE, and expect_error.
FRUGAL=${FRUGAL:?path of the frugal binary}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() { echo "FAIL: $*"; exit 1; }

# use_peer VAR [SKIP_MESSAGE]: peer_bin = the executable that environment
# variable VAR names (another engine's binary, for the tests set beside one).
# VAR unset: with a message, SKIP and exit 0; without, peer_bin is empty (an
# optional peer). A path that is not an executable fails.
use_peer() {
  peer_bin=${!1:-}
  if [[ -z "$peer_bin" ]]; then
    if [[ $# -ge 2 ]]; then
      echo "SKIP: $2"
      exit 0
    fi
    return 0
  fi
  [[ -x "$peer_bin" ]] || fail "$1=$peer_bin is not an executable"
}

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

# start_serve args...: starts `frugal serve args...` in the background (its
# stderr in $dir/serve.err), waits up to 10 s for it to print its address and
# sets serve_pid and serve_port; the server is killed on exit. Pass --port 0
# so that the kernel picks a free loopback port.
start_serve() {
  # The file exists, empty, before the server starts: the loop below must
  # neither fail to read it nor read a port from an earlier server's lines
  # (the background process truncates it only when it gets to run).
  : >"$dir/serve.err"
  "$FRUGAL" serve "$@" >"$dir/serve.out" 2>"$dir/serve.err" &
  serve_pid=$!
  trap 'kill $serve_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
  wait_for_address $serve_pid "$dir/serve.err" 100 serve
  serve_port=$address_port
}

# wait_for_address PID ERRFILE TRIES NAME: sets address_port to the port of
# the http://127.0.0.1:PORT a server prints on ERRFILE, polling TRIES times
# 0.1 s apart; fails, with ERRFILE, if PID exits first or nothing comes.
wait_for_address() {
  local pid=$1 err=$2 tries=$3 name=$4
  address_port=""
  for _ in $(seq 1 "$tries"); do
    address_port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$err")
    [[ -n "$address_port" ]] && return 0
    kill -0 "$pid" 2>/dev/null || fail "$name exited early: $(cat "$err")"
    sleep 0.1
  done
  fail "$name printed no address: $(cat "$err")"
}
