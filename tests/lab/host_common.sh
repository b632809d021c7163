# Sourced by the lab tests' host-side scripts (replay_lab.sh, tcpdump_lab.sh):
#   need TOOL...             each on PATH, else SKIP (exit 77), or FAIL under CI=true
#   fail MESSAGE             FAIL: MESSAGE, exit 1
#   run_guest LAB SCRIPT ARG...  boots the lab with two ports, runs `sh SCRIPT ARG...` in
#                            the guest; its $NCAP_LAB_OUT is then $out (removed at exit)
fail() { echo "FAIL: $*"; exit 1; }
need() {
  for t in "$@"; do
    command -v "$t" >/dev/null && continue
    [ "${CI:-}" = true ] && fail "CI lacks $t: run scripts/setup.sh"
    echo "SKIP: $t is missing (scripts/setup.sh installs it)"
    exit 77
  done
}
run_guest() {
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  l=$1
  shift
  "$l" run --ports 2 --keep "$tmp/run" --timeout 300 -- sh "$@" || fail "lab run exit $?"
  out=$tmp/run/out
}
