#!/bin/sh
# Runs inside the lab guest (two 82576 ports on one QEMU hub, both on vfio-pci): the
# issue-3 acceptance through the tools a user runs. Driven and checked by
# apps_lab_test.py on the host, which reads the JSON files left in $NCAP_LAB_OUT,
# QEMU's filter-dump of port 0, and injects frames through the hub's stream socket
# when this script prints INJECT-NOW.
# Usage: apps_in_guest.sh NCAP-GEN NCAP-COUNT NCAP-BIND
set -u
gen=$1 count=$2 bind=$3
p0=${NCAP_LAB_PORTS%%,*}
p1=${NCAP_LAB_PORTS##*,}
out=$NCAP_LAB_OUT
n=${NCAP_LAB_N:-100000}
inject=${NCAP_LAB_INJECT:-500}

fail() { echo "FAIL: $*"; exit 1; }
echo "MACS $NCAP_LAB_MACS"
# Waits until FILE (a background command's log) says PATTERN.
wait_for() {
  i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 400 ] || fail "no '$2' in $1: $(cat "$1")"
    sleep 0.05
  done
}
# A receiver started in the background has its port up.
wait_up() { wait_for "$1" " up, "; }

echo "PHASE 1: ncap-gen sends $n mixed-size frames on $p0, ncap-count counts them on $p1"
$count -i "$p1" --descriptors 4096 --idle 3 --json --quiet >"$out/count1.json" 2>"$out/count1.err" &
c=$!
wait_up "$out/count1.err"
$gen -i "$p0" -c "$n" -s 60-1514 -f 64 -w "$out/gen1.pcap" --json >"$out/gen1.json" 2>"$out/gen1.err" ||
  fail "ncap-gen: $(cat "$out/gen1.err")"
wait $c || fail "ncap-count exit $?: $(cat "$out/count1.err")"
cat "$out/gen1.json" "$out/count1.json"

echo "PHASE 3: frames injected by the host through the hub reach $p1 byte for byte"
$count -i "$p1" -c "$inject" -d 120 -w "$out/inject_rx.pcap" --json --quiet >"$out/count3.json" 2>"$out/count3.err" &
c=$!
wait_up "$out/count3.err"
echo "INJECT-NOW"
wait $c || fail "ncap-count exit $?: $(cat "$out/count3.err")"
cat "$out/count3.json"

echo "PHASE 4: a consumer slower than the offered load; every frame is counted somewhere"
# The application (200 us per packet) is the slow part, not the poll thread: the offered
# 10k pps is what the poll thread sustains under TCG. (Faster, QEMU's net queue for a
# full RX ring overflows and drops frames that no NIC counter sees; docs/drivers/igb.md.)
$count -i "$p1" --slow 200000 --ring-size 256 --descriptors 4096 --idle 3 --json --quiet \
  >"$out/count4.json" 2>"$out/count4.err" &
c=$!
wait_up "$out/count4.err"
$gen -i "$p0" -c 20000 -s 64 -f 16 -r 10k --json >"$out/gen4.json" 2>"$out/gen4.err" || fail "ncap-gen: $(cat "$out/gen4.err")"
wait $c || fail "ncap-count exit $?: $(cat "$out/count4.err")"
cat "$out/gen4.json" "$out/count4.json"

echo "PHASE 5: SIGINT mid-stream, then the port opens again at once"
$gen -i "$p0" -d 60 -r 20k >"$out/gen5.txt" 2>&1 &
g=$!
$count -i "$p1" >"$out/count5.txt" 2>&1 &
c=$!
wait_up "$out/count5.txt"
sleep 3
kill -INT $c
wait $c
echo "count5_exit=$?"
cat "$out/count5.txt"
$count -i "$p1" -c 1000 -d 30 --json --quiet >"$out/count5b.json" 2>"$out/count5b.err"
echo "count5b_exit=$?"
cat "$out/count5b.json"
kill -INT $g
wait $g
echo "gen5_exit=$?"
cat "$out/gen5.txt"

echo "PHASE 7: another process reads port 1's packets in place (--publish, ring:NAME@GROUP)"
$count -i "$p1" --publish lab --descriptors 4096 --idle 4 --json --quiet >"$out/pub7.json" 2>"$out/pub7.err" &
pb=$!
wait_for "$out/pub7.err" "published queue 0"
$count -i ring:lab@0 -c 5000 -d 60 --json --quiet >"$out/cons7.json" 2>"$out/cons7.err" &
cs=$!
wait_for "$out/cons7.err" "attached to ring:lab@0"
$gen -i "$p0" -c 5000 -s 60-1514 -r 10k --json >"$out/gen7.json" 2>"$out/gen7.err" || fail "ncap-gen: $(cat "$out/gen7.err")"
wait $cs || fail "consumer exit $?: $(cat "$out/cons7.err")"
wait $pb || fail "publisher exit $?: $(cat "$out/pub7.err")"
cat "$out/gen7.json" "$out/cons7.json" "$out/pub7.json"

echo "PHASE 6: bad input"
# expect EXIT PATTERN CMD...: CMD exits with EXIT and says PATTERN.
expect() {
  want=$1 pattern=$2
  shift 2
  msg=$("$@" 2>&1)
  rc=$?
  echo "$msg" | grep -qF -- "$pattern" || fail "'$*' did not say '$pattern': $msg"
  [ $rc -eq "$want" ] || fail "'$*' exited $rc, want $want: $msg"
  echo "ok: $* -> exit $rc: $(echo "$msg" | head -1)"
}
expect 1 "'00:1' is not a PCI address" $count -i 00:1
expect 1 "PCI device 0000:00:1e.7 does not exist" $count -i 0000:00:1e.7
expect 2 "core 5 does not exist" $count -i "$p1" -q 2 --cores 0,5
expect 1 "the 82576 supports 1-16 RX queues" $count -i "$p1" -q 17
expect 2 "more than the line rate" $gen -i "$p0" -r 2Gbit -c 10
expect 2 "frame size '1515' is out of range" $gen -i "$p0" -s 1515 -c 10
expect 2 "frame size '59' is out of range" $gen -i "$p0" -s 59 -c 10
# The port in the kernel's hands: Linux's igb driver takes it over from vfio-pci.
for m in dca i2c-algo-bit igb; do insmod "$NCAP_LAB_MODULES/$m.ko" || fail "insmod $m"; done
$bind --unbind "$p0" >/dev/null || fail "unbind $p0"
echo igb >"/sys/bus/pci/devices/$p0/driver_override"
echo "$p0" >/sys/bus/pci/drivers_probe
[ "$(basename "$(readlink "/sys/bus/pci/devices/$p0/driver")")" = igb ] || fail "$p0 did not go to igb"
expect 1 "is bound to the 'igb' driver, not vfio-pci" $gen -i "$p0" -c 10
expect 1 "fix: ncap-bind $p0" $count -i "$p0" -c 10
$bind "$p0" >/dev/null || fail "ncap-bind could not take $p0 back from igb"
$gen -i "$p0" -c 10 >/dev/null 2>&1 || fail "$p0 unusable after ncap-bind took it back"
echo "PASS apps_in_guest"
