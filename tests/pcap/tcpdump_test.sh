#!/bin/sh
# Unmodified Debian tcpdump (and capinfos/tshark as readers) through libncap-pcap, both
# deliveries: LD_PRELOAD=libncap-pcap.so and the drop-in libpcap.so.0.8 (LD_LIBRARY_PATH).
# Usage: tcpdump_test.sh PRELOAD_SO DROPIN_DIR NCAP_GEN FRAMES_PY NCAP_EXTCAP
set -u
PRELOAD=$1 DROPIN=$2 GEN=$3 FRAMES="python3 $4" EXTCAP=$5
for t in tcpdump capinfos tshark; do
  command -v $t >/dev/null || { echo "SKIP: $t is not installed (scripts/setup.sh installs it)"; exit 77; }
done
D=$(mktemp -d) && chmod 777 "$D"  # tcpdump writes as user tcpdump after pcap_activate
trap 'rm -rf "$D"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
# meson puts the drop-in on LD_LIBRARY_PATH: each mode names exactly its own library.
pre() { LD_LIBRARY_PATH= LD_PRELOAD=$PRELOAD "$@"; }
drop() { LD_LIBRARY_PATH=$DROPIN "$@"; }

# The frames ncap-gen sends (and writes) for these parameters: the reference.
"$GEN" -i model:82599 -c 10000 --size 60-1514 --flows 7 -w "$D/sent.pcap" >/dev/null || { echo "ncap-gen failed"; exit 1; }
[ "$($FRAMES count "$D/sent.pcap")" = 10000 ] || fail "ncap-gen wrote $($FRAMES count "$D/sent.pcap") frames"

for mode in pre drop; do
  # 1. A trace through ncap's pcap: backend: tcpdump -c 10000 -w writes exactly ncap-gen's
  #    frames, byte for byte (a ring of 16384 holds the whole trace: no drop is possible).
  rm -f "$D/out.pcap"
  NCAP_RX_SLOTS=16384 $mode tcpdump -i "ncap:pcap:$D/sent.pcap" -c 10000 -w "$D/out.pcap" 2>"$D/err" ||
    fail "$mode: tcpdump exited $?: $(cat "$D/err")"
  grep -q "^10000 packets captured" "$D/err" || fail "$mode: tcpdump said: $(cat "$D/err")"
  capinfos -c -M "$D/out.pcap" | grep -q "Number of packets: *10000$" || fail "$mode: capinfos: $(capinfos -c -M "$D/out.pcap")"
  $FRAMES same "$D/out.pcap" "$D/sent.pcap" && ok "$mode: 10000 frames equal to ncap-gen's" || fail "$mode: frames differ"

  # 2. With a filter expression: exactly the matching frames (the trace ends, tcpdump exits).
  rm -f "$D/f.pcap"
  NCAP_RX_SLOTS=16384 $mode tcpdump -i "ncap:pcap:$D/sent.pcap" -w "$D/f.pcap" udp src port 1026 2>"$D/err" ||
    fail "$mode: filtered tcpdump exited $?: $(cat "$D/err")"
  $FRAMES match "$D/f.pcap" "$D/sent.pcap" 1026 && ok "$mode: filter kept exactly the matching frames" ||
    fail "$mode: filter"
done

# 3. The model's generator at full speed (the NIC drops what the poll thread cannot take,
#    and counts it): exactly 10000 frames, each one of the generator's 7 flows of 100 bytes.
rm -f "$D/m.pcap"
pre tcpdump -i 'ncap:model:82599?gen=inf&size=100&flows=7' -c 10000 -w "$D/m.pcap" 2>"$D/err" ||
  fail "model: tcpdump exited $?: $(cat "$D/err")"
tshark -r "$D/m.pcap" -T fields -e frame.len -e frame.cap_len -e udp.srcport 2>/dev/null >"$D/m.txt"
awk 'BEGIN { FS = "\t" } $1 != 100 || $2 != 100 || $3 < 1024 || $3 > 1030 { bad++ } END { exit !(NR == 10000 && !bad) }' \
  "$D/m.txt" && ok "model: exactly 10000 generator frames" || fail "model: $(wc -l <"$D/m.txt") frames or wrong ones"

# Nanosecond timestamps when asked (pcap_set_tstamp_precision): the nanosecond magic and
# a fraction tshark prints with 9 digits.
pre tcpdump --time-stamp-precision=nano -i 'ncap:model:82599?gen=inf&size=64' -c 10 -w "$D/n.pcap" 2>"$D/err" ||
  fail "nano: $(cat "$D/err")"
magic=$(od -An -tx4 -N4 "$D/n.pcap" | tr -d ' ')
frac=$(tshark -r "$D/n.pcap" -c 1 -T fields -e frame.time_epoch 2>/dev/null | cut -d. -f2)
[ "$magic" = a1b23c4d ] && [ ${#frac} = 9 ] && ok "nano: magic $magic, .$frac" || fail "nano: magic $magic, .$frac"

# 4. tshark through dumpcap (select() on the eventfd, one packet per pcap_dispatch):
#    exactly N frames, with either library; tshark -D lists ncap's ports after the real ones.
for mode in pre drop; do
  rm -f "$D/t.pcapng"
  $mode tshark -i 'ncap:model:82599?gen=inf&size=100&flows=7' -c 1000 -w "$D/t.pcapng" >/dev/null 2>"$D/err" ||
    fail "$mode: tshark exited $?: $(cat "$D/err")"
  capinfos -c -M "$D/t.pcapng" | grep -q "Number of packets: *1000$" && ok "$mode: tshark -c 1000 captured 1000" ||
    fail "$mode: tshark: $(capinfos -c -M "$D/t.pcapng" 2>&1): $(cat "$D/err")"
done
pre tshark -D 2>/dev/null | grep -q "ncap:kernel:lo" && ok "tshark -D lists ncap:kernel:lo" || fail "tshark -D: $(pre tshark -D 2>&1)"
for t in tshark dumpcap tcpreplay; do
  l=$(LD_LIBRARY_PATH=$DROPIN ldd "$(command -v $t)" | grep libpcap)
  case $l in *"$DROPIN/libpcap.so.0.8"*) ok "ldd $t: drop-in" ;; *) fail "ldd $t: $l" ;; esac
done

# The extcap program: lists ncap's ports, captures with a filter into Wireshark's fifo.
"$EXTCAP" --extcap-interfaces | grep -q "^interface {value=ncap:kernel:lo}" && ok "extcap lists ncap:kernel:lo" ||
  fail "extcap: $("$EXTCAP" --extcap-interfaces 2>&1)"
NCAP_RX_SLOTS=16384 LD_LIBRARY_PATH= "$EXTCAP" --capture --extcap-interface ncap:kernel:lo --spec "pcap:$D/sent.pcap" \
  --fifo "$D/x.pcap" --extcap-capture-filter "udp src port 1026" 2>"$D/err" || fail "extcap capture: $(cat "$D/err")"
$FRAMES match "$D/x.pcap" "$D/sent.pcap" 1026 && ok "extcap: exactly the matching frames" || fail "extcap capture"

# 5. Ctrl-C: tcpdump's own statistics, with ncap's counts (ps_recv > 0).
LD_LIBRARY_PATH= LD_PRELOAD=$PRELOAD tcpdump -i "ncap:model:82599?gen=inf&size=64" -w /dev/null 2>"$D/err" &
pid=$!
sleep 2
kill -INT $pid
wait $pid || fail "SIGINT: tcpdump exited $?"
recv=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$D/err")
grep -q "packets dropped by kernel" "$D/err" && [ "${recv:-0}" -gt 0 ] && ok "SIGINT: $recv packets received by filter" ||
  fail "SIGINT statistics: $(cat "$D/err")"

# 6. Bad input: the message names the problem and the fix; tcpdump exits non-zero.
expect_error() {  # what, pattern, command...
  what=$1 pattern=$2
  shift 2
  if "$@" -c 1 -w /dev/null 2>"$D/err"; then fail "$what: tcpdump succeeded"; fi
  grep -q -- "$pattern" "$D/err" && ok "$what" || fail "$what: $(cat "$D/err")"
}
expect_error "unknown port" "'nosuch' is not a PCI address nor a device spec ncap knows" pre tcpdump -i ncap:nosuch
grep -q "ncap:nosuch: No such device exists" "$D/err" && ok "unknown port: PCAP_ERROR_NO_SUCH_DEVICE" ||
  fail "unknown port: not PCAP_ERROR_NO_SUCH_DEVICE: $(cat "$D/err")"
NCAP_CAPLEN=huge expect_error "bad NCAP_CAPLEN" "NCAP_CAPLEN: 'huge' is not a number in 1..262144" pre tcpdump -i ncap:model:82599
printf 'rx_slots = 1000\n' >"$D/bad.conf"
expect_error "config value" "bad.conf:1: 1000 is not a power of two" pre tcpdump -i "ncap/$D/bad.conf:model:82599"
printf 'caplen 64\n' >"$D/bad2.conf"
expect_error "malformed config" "bad2.conf:1: 'caplen 64' is not 'key = value'" pre tcpdump -i "ncap/$D/bad2.conf:model:82599"
NCAP_GROUP=42 expect_error "group without daemon" "needs the ncapd daemon" pre tcpdump -i ncap:model:82599

# No permission: tcpdump as user nobody on an interface (a veth in a private namespace).
NS=ncap-pcap-test-$$
if ip netns add $NS 2>"$D/err"; then
  ip -n $NS link add d0 type veth peer name d1 && ip -n $NS link set d0 up
  if ip netns exec $NS setpriv --reuid=65534 --regid=65534 --clear-groups env LD_PRELOAD="$PRELOAD" \
    tcpdump -i ncap:kernel:d0 -c 1 -w /dev/null 2>"$D/err"; then fail "no permission: tcpdump succeeded"; fi
  grep -q "You don't have permission" "$D/err" && grep -q "CAP_NET_RAW" "$D/err" &&
    ok "no permission: PCAP_ERROR_PERM_DENIED naming CAP_NET_RAW" || fail "no permission: $(cat "$D/err")"
  ip netns del $NS
else
  fail "no permission: cannot make a network namespace (needs root): $(cat "$D/err")"
fi

# 7. The drop-in: ldd resolves tcpdump's libpcap to it; names it does not own still work.
ldd_tcpdump=$(LD_LIBRARY_PATH=$DROPIN ldd "$(command -v tcpdump)" | grep libpcap)
case $ldd_tcpdump in *"$DROPIN/libpcap.so.0.8"*) ok "ldd: $ldd_tcpdump" ;; *) fail "ldd: $ldd_tcpdump" ;; esac
n=$(drop tcpdump -r "$D/sent.pcap" 2>/dev/null | wc -l)
[ "$n" = 10000 ] && ok "drop-in: tcpdump -r reads 10000 frames" || fail "drop-in: tcpdump -r printed $n lines"
n=$(pre tcpdump -r "$D/sent.pcap" 2>/dev/null | wc -l)
[ "$n" = 10000 ] && ok "preload: tcpdump -r reads 10000 frames" || fail "preload: tcpdump -r printed $n lines"

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
