#!/bin/sh
# Inside the lab guest (see scripts/demo.sh): what a user does with two NICs.
# Usage: demo_in_guest.sh BUILD/apps
set -eu
apps=$1
p0=${NCAP_LAB_PORTS%%,*}
p1=${NCAP_LAB_PORTS##*,}
frames=${NCAP_DEMO_FRAMES:-200000}
rate=${NCAP_DEMO_RATE:-30k}
export PATH="$apps/ncap-bind:$apps/ncap-gen:$apps/ncap-count:$PATH"

echo "\$ ncap-bind --list"
ncap-bind --list
echo
# 4096 descriptors per queue: QEMU's 82576 drops a frame for a full RX queue without any
# counter seeing it (docs/drivers/igb.md), and a TCG poll thread can lose its vCPU for a
# while; a real 82576 would count such a frame (MPC / RQDPC).
echo "\$ ncap-count -i $p1 -q 2 --descriptors 4096 --idle 2 &   # two RSS queues, one poll thread each"
ncap-count -i "$p1" -q 2 --descriptors 4096 --idle 2 2>&1 &
c=$!
sleep 1.5
echo "\$ ncap-gen -i $p0 -c $frames -s 60-1514 -f 256 -r $rate"
ncap-gen -i "$p0" -c "$frames" -s 60-1514 -f 256 -r "$rate" 2>&1
wait $c
