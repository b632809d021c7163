#!/bin/sh
# ncap-gen --replay through VFIO in the lab (issue 18): one boot runs replay_in_guest.sh,
# then the host reads the files it left. Proves: a trace ncap-dump wrote comes back byte
# for byte and in order; --loop 2 with --rewrite-dst-ip gives 2x the frames, 1000 to each
# loop's destination, every IPv4 header and UDP checksum good in tshark.
#   replay_lab.sh LAB NCAP-GEN NCAP-DUMP GUEST-SCRIPT
set -u
lab=$1 gen=$2 dump=$3 script=$4
. "$(dirname "$0")/host_common.sh"
need qemu-system-x86_64 tshark tcpdump
run_guest "$lab" "$script" "$gen" "$dump"
tcpdump -r "$out/trace.pcapng" -t -n -xx >"$tmp/trace.txt" 2>/dev/null || fail "tcpdump -r trace"
tcpdump -r "$out/same.pcapng" -t -n -xx >"$tmp/same.txt" 2>/dev/null || fail "tcpdump -r same"
[ "$(grep -c IP "$tmp/trace.txt")" = 1000 ] || fail "the trace holds $(grep -c IP "$tmp/trace.txt") frames"
cmp -s "$tmp/trace.txt" "$tmp/same.txt" || fail "replayed frames differ: $(diff "$tmp/trace.txt" "$tmp/same.txt" | head -4)"
echo "ok: 1000 frames replayed through VFIO byte for byte and in order"
tshark -r "$out/loop.pcapng" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -T fields -e ip.dst \
  -e ip.checksum.status -e udp.checksum.status 2>/dev/null | sort | uniq -c >"$tmp/loop.txt"
cat "$tmp/loop.txt"
[ "$(awk '$3 == 1 && $4 == 1 {n += $1} END {print n}' "$tmp/loop.txt")" = 2000 ] || fail "not 2000 good checksums"
[ "$(awk '$2 == "10.9.0.1" {print $1}' "$tmp/loop.txt")" = 1000 ] &&
  [ "$(awk '$2 == "10.9.0.2" {print $1}' "$tmp/loop.txt")" = 1000 ] || fail "not 1000 frames to each loop's destination"
echo "ok: --loop 2: 2000 frames, 1000 to 10.9.0.1 and 1000 to 10.9.0.2, every IPv4/UDP checksum good"
