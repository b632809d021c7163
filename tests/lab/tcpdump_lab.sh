#!/bin/sh
# Issue 17 in the lab: Debian's tcpdump through libncap-pcap (LD_PRELOAD, daemon-less
# ncap:BDF) on an emulated 82576 through VFIO, against ncap-gen on the other port. One
# boot runs tcpdump_in_guest.sh; the host then checks: tcpdump captured exactly the
# 2000 frames ncap-gen sent, byte for byte and in order, and its own statistics say
# 2000 received by filter and 0 dropped by kernel.
#   tcpdump_lab.sh LAB LIBNCAP-PCAP NCAP-GEN GUEST-SCRIPT
set -u
lab=$1 lib=$2 gen=$3 script=$4
. "$(dirname "$0")/host_common.sh"
need qemu-system-x86_64 tcpdump
run_guest "$lab" "$script" "$lib" "$gen"
tcpdump -r "$out/gen.pcap" -t -n -xx >"$tmp/gen.txt" 2>/dev/null || fail "tcpdump -r gen.pcap"
tcpdump -r "$out/tcpdump.pcap" -t -n -xx >"$tmp/got.txt" 2>/dev/null || fail "tcpdump -r tcpdump.pcap"
sent=$(grep -c '^IP' "$tmp/gen.txt")
got=$(grep -c '^IP' "$tmp/got.txt")
[ "$sent" = 2000 ] || fail "ncap-gen wrote $sent frames, not 2000"
[ "$got" = 2000 ] || fail "tcpdump captured $got frames, not 2000"
cmp -s "$tmp/gen.txt" "$tmp/got.txt" || fail "captured frames differ: $(diff "$tmp/gen.txt" "$tmp/got.txt" | head -4)"
grep -q '^2000 packets captured' "$out/tcpdump.err" || fail "tcpdump says: $(cat "$out/tcpdump.err")"
grep -q '^2000 packets received by filter' "$out/tcpdump.err" || fail "tcpdump says: $(cat "$out/tcpdump.err")"
grep -q '^0 packets dropped by kernel' "$out/tcpdump.err" || fail "tcpdump says: $(cat "$out/tcpdump.err")"
echo "ok: tcpdump through libncap-pcap captured the 2000 frames ncap-gen sent through VFIO, byte for byte"
