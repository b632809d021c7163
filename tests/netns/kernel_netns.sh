#!/bin/sh
# The kernel backend (AF_PACKET TPACKET_V3) on a veth pair between two private network
# namespaces, and the trace backend (pcap:FILE). Root.
#   kernel_netns.sh NCAP-COUNT NCAP-GEN PYTHON3 PCAP-TOOL
# Proves: exact frame and byte counts received in a namespace and, through
# kernel:NETNS/IFNAME, from the root namespace; -q 4 puts each flow, both directions,
# on exactly one queue; under overload offered = received + counted socket drops;
# a trace comes back byte for byte and in order, paced, and a damaged one is refused.
set -u
count=$1 gen=$2 py=$3 tool=$4
tag=k
. "$(dirname "$0")/veth_pair.sh"

field() { $py -c 'import json, sys; print(json.loads(open(sys.argv[2]).readlines()[-1])[sys.argv[1]])' "$1" "$2"; }
# receive SPEC OUT [ncap-count options...]: starts a capture in the background; it ends
# 2 s after its last packet, so that nothing is left in the kernel's ring.
receive() {
  spec=$1 out=$2; shift 2
  $count -i "$spec" --idle 2 --json --quiet "$@" >"$tmp/$out.json" 2>"$tmp/$out.err" &
  rx=$!
  sleep 0.5
}
# send NS IFACE OUT [ncap-gen options...]
send() {
  ns=$1 ifc=$2 out=$3; shift 3
  ip netns exec "$ns" $gen -i "kernel:$ifc" --json "$@" >"$tmp/$out.json" 2>"$tmp/$out.err" || fail "ncap-gen $out exit $?"
}

# exact WHERE SPEC TAG SEED: ncap-count -i SPEC, run in namespace WHERE ("" = the root
# namespace), receives exactly the 100000 mixed-size frames (seed SEED) namespace a sends,
# and their bytes. Its ring (32768 descriptors: 64 MiB of the run's 78 MB) holds most of it, so
# a sender cannot outrun it within a run, however the two share the cores (overload: 4 below).
exact() {
  where=$1 spec=$2 tag=$3 seed=$4
  if [ -n "$where" ]; then
    ip netns exec "$where" $count -i "$spec" -c 100000 --idle 3 --descriptors 32768 --json --quiet \
      >"$tmp/$tag.json" 2>"$tmp/$tag.err" &
  else
    $count -i "$spec" -c 100000 --idle 3 --descriptors 32768 --json --quiet >"$tmp/$tag.json" 2>"$tmp/$tag.err" &
  fi
  rx=$!
  sleep 0.5
  send "$a" "$va" "gen-$tag" -c 100000 -s 60-1514 --flows 64 --seed "$seed"
  wait $rx || fail "ncap-count -i $spec exit $?"
  sent=$(field bytes "$tmp/gen-$tag.json")
  [ "$(field packets "$tmp/$tag.json")" = 100000 ] && [ "$(field bytes "$tmp/$tag.json")" = "$sent" ] ||
    fail "$spec${where:+ in $where}: $(cat "$tmp/$tag.json"), sent $sent bytes"
  echo "ok: 100000 frames, $sent bytes received by $spec${where:+ inside $where}"
}

# 1. Inside namespace b, and (2) the same interface from the root namespace without moving
# there; AF_PACKET, then AF_XDP (copy mode on veth).
exact "$b" "kernel:$vb" in 1
exact "" "kernel:$b/$vb" root 7
exact "$b" "kernel:$vb?xdp" xin 3
exact "" "kernel:$b/$vb?xdp" xroot 4
ip -n "$b" link show "$vb" | grep -q "prog/xdp" && fail "an XDP program is left on $vb after a clean exit"
echo "ok: AF_XDP: no program left on $vb after a clean exit"
# A capture killed with SIGKILL leaves its program; the next open removes it and says so.
$count -i "kernel:$b/$vb?xdp" >/dev/null 2>&1 &
k=$!
sleep 1
kill -KILL $k; wait $k 2>/dev/null
ip -n "$b" link show "$vb" | grep -q "prog/xdp" || fail "no XDP program after SIGKILL (the test needs one)"
$count -i "kernel:$b/$vb?xdp" -d 0.5 --quiet >/dev/null 2>"$tmp/stale.err" || fail "open after SIGKILL: $(cat "$tmp/stale.err")"
grep -q "removed the XDP program left on $vb by ncap process $k" "$tmp/stale.err" || fail "stale program message: $(cat "$tmp/stale.err")"
ip -n "$b" link show "$vb" | grep -q "prog/xdp" && fail "an XDP program is left after the open that followed SIGKILL"
echo "ok: AF_XDP: a program left by SIGKILL is found and removed by the next open"

# 3. Four queues (a PACKET_FANOUT_HASH group), 64 flows sent in both directions.
receive "kernel:$b/$vb" q4 -q 4 --flows "$tmp/flows.json"
send "$a" "$va" fwd -c 32000 --flows 64
send "$a" "$va" rev -c 32000 --flows 64 --src-ip 10.1.0.1 --dst-ip 10.0.0.1 --sport 9 --dport 1024
wait $rx || fail "ncap-count -q 4 exit $?"
[ "$(field packets "$tmp/q4.json")" = 64000 ] || fail "-q 4: $(cat "$tmp/q4.json")"
$py - "$tmp/flows.json" <<'PY' || fail "-q 4 flow placement"
import json, sys
flows = json.load(open(sys.argv[1]))
where = {}
for f in flows:
    ends = sorted([(f["src"], f["sport"]), (f["dst"], f["dport"])])
    where.setdefault((tuple(ends), f["proto"]), set()).add(f["queue"])
assert len(flows) == 128, f"{len(flows)} directed flows, want 128"
assert len(where) == 64, f"{len(where)} flows, want 64"
bad = {k: v for k, v in where.items() if len(v) != 1}
assert not bad, f"flows on more than one queue: {bad}"
queues = {q for v in where.values() for q in v}
print(f"ok: 64 flows, both directions of each on one queue, {len(queues)} of 4 queues used")
PY

# 4. Overload: a consumer that spends 20 us per packet; what it cannot take is counted.
receive "kernel:$b/$vb" slow --slow 20000 --descriptors 64
send "$a" "$va" fast -c 100000 --flows 8
wait $rx || fail "slow ncap-count exit $?"
$py - "$tmp/fast.json" "$tmp/slow.json" <<'PY' || fail "overload accounting"
import json, sys
sent = json.load(open(sys.argv[1]))["frames"]
s = json.load(open(sys.argv[2]))
d = s["drops"]
got = s["packets"]
lost = d["hw_no_descriptor"] + d["hw_missed"]
assert got + lost == sent, f"sent {sent} != received {got} + socket drops {d['hw_no_descriptor']} + interface drops {d['hw_missed']}: {s}"
assert d["hw_no_descriptor"] > 0, "the slow consumer lost nothing: the test did not overload it"
assert got == s["consumed"] + d["consumer_full"] + d["filtered"], f"received {got} != consumed + consumer ring full + filtered: {s}"
print(f"ok: offered {sent} = received {got} ({s['consumed']} consumed + {d['consumer_full']} consumer ring full) + {d['hw_no_descriptor']} socket drops + {d['hw_missed']} interface drops")
PY

# 4b. The same overload in AF_XDP mode; the consumer's ring is larger than the pool, so
# the buffers run out and the kernel drops (fill ring empty).
receive "kernel:$b/$vb?xdp" xslow --slow 20000 --ring-size 16384
send "$a" "$va" xfast -c 100000 --flows 8
wait $rx || fail "slow ncap-count ?xdp exit $?"
$py - "$tmp/xfast.json" "$tmp/xslow.json" <<'PY' || fail "AF_XDP overload accounting"
import json, sys
sent = json.load(open(sys.argv[1]))["frames"]
s = json.load(open(sys.argv[2]))
d = s["drops"]
got = s["packets"]
assert got + d["hw_no_descriptor"] + d["hw_missed"] == sent, f"sent {sent}: {s}"
assert d["hw_no_descriptor"] > 0, f"no socket drops: the test did not overload it: {s}"
assert got == s["consumed"] + d["consumer_full"] + d["filtered"], f"received {got} != consumed + ring full: {s}"
print(f"ok: AF_XDP: offered {sent} = received {got} + {d['hw_no_descriptor']} socket drops + {d['hw_missed']} interface drops")
PY

# 4c. ncap-stat: each namespace lists the devices open in it (a kernel:NS/IF device in
# NS, wherever its process runs), with their counters, and none of the other's.
$count -i "kernel:$b/$vb" -d 4 --quiet >/dev/null 2>"$tmp/statb.err" &
sb=$!
ip netns exec "$a" $count -i "kernel:$va" -d 4 --quiet >/dev/null 2>"$tmp/stata.err" &
sa=$!
sleep 0.7
send "$a" "$va" statgen -c 5000 --flows 4
sleep 1.5
stat=$(dirname "$count")/../ncap-stat/ncap-stat
ip netns exec "$b" $stat --json >"$tmp/stat_b.json" || fail "ncap-stat in $b"
ip netns exec "$a" $stat --json >"$tmp/stat_a.json" || fail "ncap-stat in $a"
wait $sb $sa
$py - "$tmp/stat_a.json" "$tmp/stat_b.json" "$a" "$b" "$va" "$vb" <<'PY' || fail "ncap-stat per namespace"
import json, sys
sa, sb = (json.load(open(f))["devices"] for f in sys.argv[1:3])
a, b, va, vb = sys.argv[3:7]
assert [d["spec"] for d in sb] == [f"kernel:{b}/{vb}"], f"{b} lists {sb}"
assert [d["spec"] for d in sa] == [f"kernel:{va}"], f"{a} lists {sa}"
assert sb[0]["rx_packets"] == 5000 and sb[0]["alive"], f"{b}'s device: {sb[0]}"
print(f"ok: ncap-stat in {b} lists kernel:{b}/{vb} (5000 packets) only, in {a} kernel:{va} only")
PY

# 5. Traces: written by ncap-gen, replayed by pcap:, compared record by record.
$gen -i model:82599 -c 2000 -s 60-1514 --flows 16 -w "$tmp/sent.pcap" >/dev/null 2>"$tmp/trace.err" || fail "ncap-gen -w"
$count -i "pcap:$tmp/sent.pcap" -w "$tmp/back.pcap" --json --quiet >"$tmp/back.json" 2>"$tmp/back.err" ||
  fail "pcap: replay exit $?"
$py "$tool" same "$tmp/sent.pcap" "$tmp/back.pcap" || fail "the replayed trace differs"
$count -i "pcap:$tmp/sent.pcap?loop=3" --json --quiet >"$tmp/loop.json" 2>"$tmp/loop.err" || fail "loop=3 exit $?"
[ "$(field packets "$tmp/loop.json")" = 6000 ] || fail "loop=3: $(cat "$tmp/loop.json")"
echo "ok: loop=3 replays 6000 frames"
$py "$tool" gaps "$tmp/gaps.pcap" 20 50 || fail "write gaps.pcap"
t0=$($py -c 'import time; print(time.monotonic())')
$count -i "pcap:$tmp/gaps.pcap?pace=1" --json --quiet >"$tmp/pace.json" 2>"$tmp/pace.err" || fail "pace=1 exit $?"
t1=$($py -c 'import time; print(time.monotonic())')
$py -c "import sys; d=$t1-$t0; sys.exit(0 if 0.95 <= d < 1.9 else 1)" ||
  fail "pace=1 of 19 gaps of 50 ms took from $t0 to $t1 s"
[ "$(field packets "$tmp/pace.json")" = 20 ] || fail "pace=1: $(cat "$tmp/pace.json")"
echo "ok: pace=1 keeps the recorded gaps"

# 6. Damaged traces: a clear message and exit 1.
size=$(stat -c %s "$tmp/sent.pcap")
head -c $((size - 7)) "$tmp/sent.pcap" >"$tmp/cut.pcap"
$count -i "pcap:$tmp/cut.pcap" --json --quiet >"$tmp/cut.json" 2>"$tmp/cut.err"
[ $? -eq 1 ] || fail "a truncated trace did not exit 1"
grep -q "damaged after 1999 records" "$tmp/cut.err" || fail "truncated trace message: $(cat "$tmp/cut.err")"
[ "$(field packets "$tmp/cut.json")" = 1999 ] || fail "truncated trace: $(cat "$tmp/cut.json")"
printf 'this is not a trace' >"$tmp/junk.pcap"
$count -i "pcap:$tmp/junk.pcap" 2>"$tmp/junk.err" >/dev/null
[ $? -eq 1 ] && grep -q "cannot read the trace" "$tmp/junk.err" || fail "junk trace: $(cat "$tmp/junk.err")"
echo "ok: truncated and junk traces refused with exit 1"

# 7. Bad input: each with its message and exit code 1.
check_bad() {
  spec=$1 want=$2
  $count -i "$spec" -c 1 >/dev/null 2>"$tmp/bad.err"
  rc=$?
  [ $rc -eq 1 ] && grep -q "$want" "$tmp/bad.err" || fail "$spec: exit $rc, $(cat "$tmp/bad.err")"
}
check_bad "kernel:no-such-ns-$$/$vb" "network namespace 'no-such-ns-$$' not found"
check_bad "kernel:$b/nope0" "no interface 'nope0' in network namespace '$b'"
check_bad "kernel:nope0" "no interface 'nope0' in this network namespace"
ip -n "$b" link set "$vb" down
check_bad "kernel:$b/$vb" "is down"
ip -n "$b" link set "$vb" up
ip -n "$b" link set "$vb" mtu 4000
check_bad "kernel:$b/$vb" "MTU 4000 is larger"
echo "ok: bad specs refused with their reasons"
echo "PASS kernel_netns"
