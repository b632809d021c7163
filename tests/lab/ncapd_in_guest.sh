#!/bin/sh
# Runs inside the lab guest (two 82576 ports on one QEMU hub, both on vfio-pci): ncapd
# owns port 1 through VFIO; two groups join at run time (group 1: round robin over two
# ncap-count members, group 2: copy to one), then ncap-gen sends 2000 frames on port 0.
# Checks, per group, from ncap-stat while the members are attached and from each
# member's summary: offered = the 2000 sent = delivered + ring full + no consumer +
# filtered, and the members together received what the group delivered (rr: both
# members some).
# -r 5k: under TCG faster frames overflow QEMU's queue for a full RX ring, a loss no NIC
# counter sees (docs/drivers/igb.md).
# Usage: ncapd_in_guest.sh NCAPD NCAP-COUNT NCAP-GEN NCAP-STAT
set -u
ncapd=$1 count=$2 gen=$3 stat=$4
p0=${NCAP_LAB_PORTS%%,*}
p1=${NCAP_LAB_PORTS##*,}
out=$NCAP_LAB_OUT
n=2000
fail() { echo "FAIL: $*"; exit 1; }
# wait_for FILE PATTERN [COMMAND]: until FILE (or COMMAND's output, written to FILE)
# says PATTERN, for at most 30 s.
wait_for() {
  end=$(($(date +%s) + 30))
  while :; do
    [ $# -gt 2 ] && $3 >"$1" 2>&1
    grep -q "$2" "$1" 2>/dev/null && return
    [ "$(date +%s)" -lt $end ] || fail "no '$2' in $1: $(cat "$1")"
    sleep 0.1
  done
}

# 4096 descriptors hold all the frames: the poll thread may lag under TCG without loss.
printf 'lab = %s\nlab.descriptors = 4096\n' "$p1" >"$out/ncapd.conf"
$ncapd --config "$out/ncapd.conf" 2>"$out/ncapd.err" &
d=$!
wait_for "$out/ncapd.err" "ncapd: serving"
member() { # TAG GROUP BALANCE
  $count -i ring:lab --group "$2" --balance "$3" --idle 60 --json --quiet >"$out/$1.json" 2>"$out/$1.err" &
}
member rr1 1 rr
m1=$!
member rr2 1 rr
m2=$!
member copy 2 copy
m3=$!
wait_for "$out/stat0.txt" "group 1 .*2 members" "$stat"
wait_for "$out/stat0.txt" "group 2 .*1 members" "$stat"
$gen -i "$p0" -c $n -s 60-1514 -f 16 -r 5k >"$out/gen.txt" 2>&1 || fail "ncap-gen: $(cat "$out/gen.txt")"
# Every frame offered (the groups' counts settle), then the members stop (SIGINT) and
# print their summaries.
wait_for "$out/stat.txt" "offered $n," "$stat"
sleep 0.5
$stat >"$out/stat.txt" 2>&1 || fail "ncap-stat: $(cat "$out/stat.txt")"
cat "$out/stat.txt"
kill -INT $m1 $m2 $m3
for m in $m1 $m2 $m3; do wait $m || fail "ncap-count exit $?: $(cat "$out"/*.err)"; done
kill -TERM $d
wait $d || fail "ncapd exit $?: $(cat "$out/ncapd.err")"

# "group ID NAME (POLICY, M members): offered O, delivered D, dropped ring full R, no
# consumer C, filtered F": prints O D R C F.
counts() { sed -n "s/.*group $1 .*offered \([0-9]*\), delivered \([0-9]*\), dropped ring full \([0-9]*\), no consumer \([0-9]*\), filtered \([0-9]*\).*/\1 \2 \3 \4 \5/p" "$out/stat.txt"; }
packets() { sed -n 's/.*"type":"summary".*"packets":\([0-9]*\),.*/\1/p' "$out/$1.json"; }
for g in 1 2; do
  set -- $(counts $g)
  [ $# = 5 ] || fail "group $g not in ncap-stat: $(cat "$out/stat.txt")"
  [ "$1" = $n ] || fail "group $g offered $1, ncap-gen sent $n"
  [ $(($2 + $3 + $4 + $5)) = "$1" ] || fail "group $g: delivered $2 + ring full $3 + no consumer $4 + filtered $5 != offered $1"
  eval "delivered$g=$2"
done
r1=$(packets rr1) r2=$(packets rr2) c=$(packets copy)
[ -n "$r1" ] && [ -n "$r2" ] && [ -n "$c" ] || fail "no member summary: $(cat "$out"/*.json)"
[ "$r1" -gt 0 ] && [ "$r2" -gt 0 ] || fail "round robin gave $r1 and $r2"
[ $((r1 + r2)) = "$delivered1" ] || fail "group 1 members received $r1 + $r2, the group delivered $delivered1"
[ "$c" = "$delivered2" ] || fail "group 2's member received $c, the group delivered $delivered2"
echo "ok: $n frames through VFIO: group 1 (rr) delivered $delivered1 ($r1 + $r2), group 2 (copy) $delivered2"
echo "PASS ncapd_in_guest"
