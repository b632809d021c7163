# Sourced by the netns tests (set `tag` first, a letter or two): a temporary directory
# $tmp, fail() (prints the *.err files there, exit 1), and two private network namespaces
# $a and $b joined by a veth pair, $va in a and $vb in b, up, with IPv6 off (no
# autoconfiguration traffic: what arrives is exactly what was sent); all removed on exit;
# need TOOL...: skip (77) when a tool is missing, except in CI, where that is a failure.
# Where namespaces cannot be made: skip (77), except in CI, where that is a failure.
a=ncap-${tag}a-$$ b=ncap-${tag}b-$$
tmp=$(mktemp -d)
need() {
  for t in "$@"; do
    command -v "$t" >/dev/null && continue
    [ "${CI:-}" = true ] && { echo "FAIL: CI lacks $t: run scripts/setup.sh"; exit 1; }
    echo "SKIP: $t is missing (scripts/setup.sh installs it)"
    exit 77
  done
}
fail() { echo "FAIL: $*"; for f in "$tmp"/*.err; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }
if ! ip netns add "$a" 2>"$tmp/setup.err"; then
  [ "${CI:-}" = true ] && fail "ip netns add: $(cat "$tmp/setup.err")"
  echo "SKIP: cannot create a network namespace here: $(cat "$tmp/setup.err")"
  exit 77
fi
cleanup() { ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip netns add "$b" || fail "ip netns add $b"
va=${tag}va$$ vb=${tag}vb$$
ip link add "$va" type veth peer name "$vb" || fail "ip link add veth"
ip link set "$va" netns "$a" && ip link set "$vb" netns "$b" || fail "move the veth ends"
for ns in "$a" "$b"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$a" link set "$va" up && ip -n "$b" link set "$vb" up || fail "link up"
