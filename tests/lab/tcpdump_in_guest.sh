#!/bin/sh
# Runs inside the lab guest (two 82576 ports on one QEMU hub, both on vfio-pci): Debian's
# unmodified tcpdump captures through libncap-pcap (LD_PRELOAD, daemon-less
# `ncap:BDF`: the library opens port 1 itself through VFIO) while ncap-gen sends on
# port 0. Leaves tcpdump.pcap, gen.pcap (what ncap-gen sent) and tcpdump.err (its
# statistics) in $NCAP_LAB_OUT for tcpdump_lab.sh to check on the host.
# -r 5k: under TCG faster frames overflow QEMU's queue for a full RX ring, a loss no NIC
# counter sees (docs/drivers/igb.md).
# Usage: tcpdump_in_guest.sh LIBNCAP-PCAP NCAP-GEN
set -u
lib=$1 gen=$2
p0=${NCAP_LAB_PORTS%%,*}
p1=${NCAP_LAB_PORTS##*,}
out=$NCAP_LAB_OUT
n=2000
fail() { echo "FAIL: $*"; exit 1; }

# -Z root: Debian's tcpdump drops to user tcpdump, who may not write $out.
LD_PRELOAD=$lib timeout 60 tcpdump -i "ncap:$p1" -c $n -n -Z root -w "$out/tcpdump.pcap" 2>"$out/tcpdump.err" &
td=$!
i=0
until grep -q "listening on ncap:$p1" "$out/tcpdump.err" 2>/dev/null; do
  i=$((i + 1))
  [ $i -lt 600 ] || fail "tcpdump did not start: $(cat "$out/tcpdump.err")"
  kill -0 $td 2>/dev/null || fail "tcpdump exited: $(cat "$out/tcpdump.err")"
  sleep 0.1
done
$gen -i "$p0" -c $n -s 60-1514 -f 16 -r 5k -w "$out/gen.pcap" >"$out/gen.txt" 2>&1 ||
  fail "ncap-gen: $(cat "$out/gen.txt")"
wait $td || fail "tcpdump exit $?: $(cat "$out/tcpdump.err")"
cat "$out/tcpdump.err"
echo "PASS tcpdump_in_guest"
