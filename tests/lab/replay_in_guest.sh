#!/bin/sh
# Runs inside the lab guest (two 82576 ports on one QEMU hub, both on vfio-pci):
# ncap-gen --replay through VFIO on port 0, ncap-dump on port 1, the files left in
# $NCAP_LAB_OUT for replay_lab.sh to check on the host (tshark is slow under TCG):
# trace.pcapng (1000 frames ncap-gen sent), same.pcapng (the trace replayed), loop.pcapng
# (--loop 2 --rewrite-dst-ip 10.9.0.1).
# -r 5k: under TCG faster frames overflow QEMU's queue for a full RX ring, a loss no NIC
# counter sees (docs/drivers/igb.md).
# Usage: replay_in_guest.sh NCAP-GEN NCAP-DUMP
set -u
gen=$1 dump=$2
p0=${NCAP_LAB_PORTS%%,*}
p1=${NCAP_LAB_PORTS##*,}
out=$NCAP_LAB_OUT
fail() { echo "FAIL: $*"; exit 1; }

# dump TAG COUNT: ncap-dump on port 1 in the background, returns once its port is up.
dump() {
  $dump -i "$p1" --descriptors 4096 -c "$2" -d 120 --quiet -w "$out/$1.pcapng" 2>"$out/$1.err" &
  rx=$!
  for _ in $(seq 200); do grep -q " up, " "$out/$1.err" && return; sleep 0.1; done
  fail "ncap-dump on $p1 did not come up: $(cat "$out/$1.err")"
}
collect() { wait $rx || fail "ncap-dump $1 exit $?: $(cat "$out/$1.err")"; }
send() { $gen -i "$p0" -r 5k "$@" >"$out/gen.txt" 2>&1 || fail "ncap-gen $*: $(cat "$out/gen.txt")"; }

dump trace 1000
send -c 1000 -s 60-1514 -f 16
collect trace
dump same 1000
send --replay "$out/trace.pcapng"
collect same
dump loop 2000
send --replay "$out/trace.pcapng" --loop 2 --rewrite-dst-ip 10.9.0.1
collect loop
echo "PASS replay_in_guest"
