#!/bin/sh
# A capture published into a private network namespace (another mount namespace too:
# `ip netns exec` unshares both): a consumer inside attaches by name and consumes,
# ncap-stat inside lists it, ncap-stat in the host namespace does not, and a host
# process cannot attach to it by name.
# Usage: fanout_netns.sh NCAP-COUNT NCAP-STAT
set -u
count=$1 stat=$2
ns=ncap-test-$$
name=nscap-$$
tmp=$(mktemp -d)
fail() { echo "FAIL: $*"; cat "$tmp"/* 2>/dev/null; exit 1; }
if ! ip netns add "$ns" 2>"$tmp/err"; then
  [ "${CI:-}" = true ] && fail "ip netns add: $(cat "$tmp/err")"
  echo "SKIP: cannot create a network namespace here: $(cat "$tmp/err")"
  exit 77
fi
cleanup() { ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

$count -i 'model:82599?gen=inf&size=64&flows=8' --publish "$name" --netns "/var/run/netns/$ns" -d 20 \
  --json --quiet >"$tmp/pub.json" 2>"$tmp/pub.err" &
pub=$!
i=0
until grep -q "published queue 0" "$tmp/pub.err" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "publisher did not start"; sleep 0.05
done

ip netns exec "$ns" $stat --json >"$tmp/stat_in.json" || fail "ncap-stat in $ns failed"
grep -q "\"name\":\"$name\"" "$tmp/stat_in.json" || fail "ncap-stat in $ns does not list $name"
$stat --json >"$tmp/stat_host.json" || fail "ncap-stat on the host failed"
grep -q "\"name\":\"$name\"" "$tmp/stat_host.json" && fail "the host namespace lists $name"
echo "ok: listed in $ns only"

out=$($count -i "ring:$name@0" -c 10 2>&1)
[ $? -eq 1 ] || fail "a host process attached to $name: $out"
echo "$out" | grep -q "no capture named '$name' in this network namespace" || fail "host attach message: $out"
echo "ok: not attachable from the host namespace"

ip netns exec "$ns" $count -i "ring:$name@0" -c 10000 --json --quiet >"$tmp/cons.json" 2>"$tmp/cons.err" ||
  fail "consumer in $ns exited $?: $(cat "$tmp/cons.err")"
got=$(sed -n 's/.*"packets":\([0-9]*\).*/\1/p' "$tmp/cons.json")
[ -n "$got" ] && [ "$got" -ge 10000 ] || fail "consumer in $ns got '$got' packets, want >= 10000"
echo "ok: a consumer in $ns received $got packets"

kill -INT $pub
wait $pub || fail "publisher exit $?"
grep -q '"type":"published"' "$tmp/pub.json" || fail "no published summary"
echo "PASS fanout_netns"
