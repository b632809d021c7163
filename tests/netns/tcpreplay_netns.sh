#!/bin/sh
# Debian's unmodified tcpreplay sending through libncap-pcap (issue 17, docs/pcap.md
# "tcpreplay"): it injects with an AF_PACKET socket of its own ("Injection method:
# PF_PACKET send()"), which pcap/packet_socket.cpp takes over for ncap names. Root.
#   tcpreplay_netns.sh PRELOAD_SO DROPIN_DIR NCAP-GEN NCAP-DUMP NCAP-COUNT PYTHON3 PCAP-TOOL
# Proves, on a veth pair between two private namespaces, with `ncap:kernel:VETH` (a name
# longer than the 15 characters tcpreplay keeps of it): the frames of a trace arrive
# byte for byte and in order (LD_PRELOAD), every frame and byte counted at recorded speed
# and at --topspeed (the drop-in libpcap.so.0.8), and an unknown port is an error.
set -u
preload=$1 dropin=$2 gen=$3 dump=$4 count=$5 py=$6 tool=$7
tag=tr
. "$(dirname "$0")/veth_pair.sh"
need tcpreplay
dev="ncap:kernel:$va"
[ ${#dev} -gt 15 ] || fail "test setup: '$dev' should be longer than IFNAMSIZ - 1"

"$gen" -i model:82599 -c 5000 --size 60-1514 --flows 16 -w "$tmp/trace.pcap" >/dev/null 2>"$tmp/gen.err" ||
  fail "ncap-gen -w"
bytes=$($py "$tool" bytes "$tmp/trace.pcap")

# 1. LD_PRELOAD: ncap-dump in b records exactly the trace's frames, in order.
ip netns exec "$b" $dump -i "kernel:$vb" -c 5000 -d 30 --quiet --format pcap -w "$tmp/got.pcap" 2>"$tmp/dump.err" &
rx=$!
sleep 0.5
ip netns exec "$a" env LD_PRELOAD="$preload" tcpreplay -i "$dev" "$tmp/trace.pcap" >"$tmp/tr1.out" 2>"$tmp/tr1.err" ||
  fail "tcpreplay (LD_PRELOAD) exit $?: $(cat "$tmp/tr1.out")"
wait $rx || fail "ncap-dump exit $?"
grep -q "Successful packets: *5000$" "$tmp/tr1.out" || fail "tcpreplay said: $(cat "$tmp/tr1.out")"
$py "$tool" same "$tmp/got.pcap" "$tmp/trace.pcap" || fail "received frames differ from the trace"
echo "ok: LD_PRELOAD tcpreplay -i $dev: 5000 frames byte for byte and in order"

# 2. The drop-in at recorded speed and at --topspeed: every frame and byte counted.
for speed in "" --topspeed; do
  ip netns exec "$b" $count -i "kernel:$vb" -c 5000 -d 30 >"$tmp/count.out" 2>"$tmp/count.err" &
  rx=$!
  sleep 0.5
  ip netns exec "$a" env LD_LIBRARY_PATH="$dropin" tcpreplay $speed -i "$dev" "$tmp/trace.pcap" >"$tmp/tr2.out" \
    2>"$tmp/tr2.err" || fail "tcpreplay $speed (drop-in) exit $?: $(cat "$tmp/tr2.out")"
  wait $rx || fail "ncap-count exit $?"
  grep -q "Successful packets: *5000$" "$tmp/tr2.out" || fail "tcpreplay $speed said: $(cat "$tmp/tr2.out")"
  grep -q "received 5000 packets, $bytes bytes" "$tmp/count.out" ||
    fail "tcpreplay $speed: receiver: $(grep received "$tmp/count.out"), want 5000 packets $bytes bytes"
  echo "ok: drop-in tcpreplay ${speed:-(recorded speed)}: 5000 frames, $bytes bytes"
done

# 3. An ncap port that cannot be opened: tcpreplay fails (non-zero), nothing is sent.
ip netns exec "$a" env LD_PRELOAD="$preload" tcpreplay -i ncap:kernel:nosuch0 "$tmp/trace.pcap" >"$tmp/bad.out" 2>&1 &&
  fail "tcpreplay on ncap:kernel:nosuch0 succeeded: $(cat "$tmp/bad.out")"
echo "ok: unknown port: $(grep -m1 -i 'invalid\|ncap' "$tmp/bad.out")"
