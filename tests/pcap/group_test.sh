#!/bin/sh
# libncap-pcap's group mode (issue 17) against ncapd on a model port: three unmodified
# tcpdumps with NCAP_GROUP=42 NCAP_BALANCE=flow share the port's two RX queues; together
# their files hold every frame offered to the group once, and both directions of each
# flow sit in one file. ncapd stopping (or killed) ends them with "capture ... ended";
# NCAP_GROUP without ncapd, or with a port it does not publish, is refused naming the fix.
# Group filters in ncapd's poll threads: ncap-count -i ncap: -f EXPR, tcpdump's
# NCAP_FILTER (the join filter) and tcpdump's own expression (pcap_setfilter, the
# handle alone in its group) each get exactly their flow's frames, the rest counted
# as filtered by ncapd; a filter that does not compile is ncapd's error, exit 1.
# ncap-dump -i ncap: (a member through the shared apps/common MemberSource) writes
# exactly its group's frames and ncap-flow -i ncap: meters and exports exactly its
# group's flow, each exiting 1 when ncapd stops.
# Usage: group_test.sh PRELOAD_SO NCAPD NCAP_STAT FRAMES_PY NCAP_COUNT NCAP_DUMP NCAP_FLOW
set -u
PRELOAD=$1 NCAPD=$2 STAT=$3 FRAMES="python3 $4" COUNT=$5 DUMP=$6 FLOW=$7
command -v tcpdump >/dev/null || { echo "SKIP: tcpdump is not installed (scripts/setup.sh installs it)"; exit 77; }
D=$(mktemp -d) && chmod 777 "$D"  # tcpdump writes as user tcpdump after pcap_activate
PORT=pcapgrp$$
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
pre() { LD_LIBRARY_PATH= LD_PRELOAD=$PRELOAD "$@"; }

# NCAP_GROUP without ncapd: PCAP_ERROR naming the fix. In a network namespace of its own,
# where nothing is published (other tests' ncapd may run in this one).
if unshare -n true 2>/dev/null; then
  if NCAP_GROUP=42 unshare -n env LD_LIBRARY_PATH= LD_PRELOAD="$PRELOAD" tcpdump -i ncap:$PORT -c 1 -w /dev/null \
    2>"$D/err"; then fail "no ncapd: tcpdump succeeded"; fi
  grep -q "NCAP_GROUP=42 needs the ncapd daemon, which is not running" "$D/err" && grep -q "start ncapd" "$D/err" &&
    ok "no ncapd: the message names the fix" || fail "no ncapd: $(cat "$D/err")"
else
  fail "no ncapd: cannot make a network namespace (unshare -n needs root)"
fi

# The generator waits 4 s: the three members join before the first frame, so the
# group's membership does not change while frames flow.
FRAMES_N=20000
printf '%s = model:82599?gen=%s&size=64&flows=64&replies=1&delay=4000&lossless=1\n%s.queues = 2\n' \
  $PORT $FRAMES_N $PORT >"$D/ncapd.conf"
"$NCAPD" --config "$D/ncapd.conf" --ring-size 16384 >"$D/ncapd.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; rm -rf "$D"' EXIT
for i in $(seq 100); do grep -q "serving 1 port" "$D/ncapd.log" && break; sleep 0.05; done
# A port ncapd does not publish: the message lists the ones it does.
if NCAP_GROUP=42 pre tcpdump -i ncap:nosuch$$ -c 1 -w /dev/null 2>"$D/err"; then fail "unknown port: succeeded"; fi
grep -q "'nosuch$$' is not a port ncapd publishes here" "$D/err" && grep -q "$PORT" "$D/err" &&
  ok "unknown port: the message lists ncapd's ports" || fail "unknown port: $(cat "$D/err")"
pids=
for k in 1 2 3; do
  NCAP_GROUP=42 NCAP_BALANCE=flow pre tcpdump -U -i ncap:$PORT -w "$D/m$k.pcap" 2>"$D/t$k.err" &
  pids="$pids $!"
done
# Until every frame went by (the generator is lossless: the group is offered them all).
snapshot() {  # group 42 summed over the port's queues: offered delivered drops members
  "$STAT" --json | python3 -c "import json, sys
g = [g for c in json.load(sys.stdin)['captures'] if c['name'].startswith('$PORT') for g in c['groups'] if g['id'] == 42]
s = lambda k: sum(x[k] for x in g)
print(s('offered'), s('delivered'), s('ring_full') + s('no_consumer') + s('filtered'), max([x['members'] for x in g] + [0]))"
}
for i in $(seq 100); do
  sleep 0.2
  set -- $(snapshot)
  [ "${1:-0}" -ge $FRAMES_N ] && break
done
sleep 0.2  # the last dispatch hands out what it counted
set -- $(snapshot)
offered=$1 delivered=$2 drops=$3 members=$4
kill -INT $daemon
wait $daemon || fail "ncapd exited $?: $(cat "$D/ncapd.log")"
for p in $pids; do wait $p && fail "tcpdump $p exited 0 after ncapd stopped"; done
[ "$members" = 3 ] && ok "group 42 had 3 members" || fail "group 42 had $members members"
[ "$offered" = $((delivered + drops)) ] && ok "group 42: offered $offered = delivered $delivered + drops $drops" ||
  fail "group 42: offered $offered, delivered $delivered, drops $drops"
[ "$drops" = 0 ] || fail "group 42 dropped $drops frames (rings of 16384 hold them all)"
[ "$offered" = $FRAMES_N ] || fail "$offered of the generator's $FRAMES_N frames reached the group"
counts=$($FRAMES flows "$D/m1.pcap" "$D/m2.pcap" "$D/m3.pcap" 2>"$D/flows.err") &&
  ok "each flow's both directions in one file" || fail "flows split across files: $(cat "$D/flows.err")"
set -- $counts
got=$1
[ "$got" = "$offered" ] && ok "the three files hold $got frames: every offered frame once" ||
  fail "the files hold $got frames, the group was offered $offered"
for k in 1 2 3; do
  shift
  [ "$1" -gt 0 ] || fail "member $k captured nothing"
  grep -q "capture $PORT ended" "$D/t$k.err" || fail "member $k: $(cat "$D/t$k.err")"
done
ok "tcpdump said: $(grep ended "$D/t1.err")"

# Group filters: 4 flows (UDP source ports 1024..1027), 1000 frames each.
PF=${PORT}f
printf '%s = model:82599?gen=4000&size=64&flows=4&delay=3000&lossless=1\n' $PF >"$D/ncapd3.conf"
"$NCAPD" --config "$D/ncapd3.conf" --ring-size 8192 >"$D/ncapd3.log" 2>&1 &
daemon=$!
for i in $(seq 100); do grep -q "serving 1 port" "$D/ncapd3.log" && break; sleep 0.05; done
if "$COUNT" -i ncap:$PF --group 4 -f 'udp src port' >"$D/bad.out" 2>&1; then fail "bad filter: exit 0"; fi
grep -q "filter of group 4 (udp src port)" "$D/bad.out" && ok "bad filter: ncapd's message" ||
  fail "bad filter: $(cat "$D/bad.out")"
"$COUNT" -i ncap:$PF --group 5 -f 'udp src port 1025' --json --quiet >"$D/c5.out" 2>&1 &
c5=$!
NCAP_GROUP=6 NCAP_FILTER='udp src port 1026' pre tcpdump -U -i ncap:$PF -w "$D/f6.pcap" 2>"$D/f6.err" &
t6=$!
pre tcpdump -Z root -U -i ncap:$PF -w "$D/f7.pcap" 'udp src port 1027' 2>"$D/f7.err" &
t7=$!
"$DUMP" -i ncap:$PF --group 8 -f 'udp src port 1024' -w "$D/d8.pcapng" --quiet 2>"$D/d8.err" &
d8=$!
"$FLOW" -i ncap:$PF --group 9 -f 'udp src port 1025' -n 127.0.0.1:9 --json --quiet >"$D/fl9.out" 2>&1 &
fl9=$!
filtered_of() {  # CONDITION on the group id g -> "offered delivered filtered" on $PF
  "$STAT" --json | python3 -c "import json, sys
g = [g for c in json.load(sys.stdin)['captures'] if c['name'] == '$PF' for g in c['groups'] if (lambda g: $1)(g['id'])]
print(*(sum(x[k] for x in g) for k in ('offered', 'delivered', 'filtered')))"
}
for i in $(seq 100); do
  sleep 0.2
  set -- $(filtered_of 'g == 5')
  [ "${1:-0}" -ge 4000 ] && break
done
sleep 0.2
for g in 5 6; do
  [ "$(filtered_of "g == $g")" = "4000 1000 3000" ] && ok "group $g: 1000 of 4000 passed ncapd's filter" ||
    fail "group $g: offered delivered filtered = $(filtered_of "g == $g")"
done
set -- $(filtered_of 'g >= 512')  # the handle's own group
g7="$*"
kill -TERM $daemon
wait $daemon || fail "ncapd exited $?: $(cat "$D/ncapd3.log")"
wait $c5 && fail "ncap-count exited 0 after ncapd stopped"
wait $t6 && fail "tcpdump (NCAP_FILTER) exited 0 after ncapd stopped"
wait $t7 && fail "tcpdump (expression) exited 0 after ncapd stopped"
wait $d8 && fail "ncap-dump exited 0 after ncapd stopped"
wait $fl9 && fail "ncap-flow exited 0 after ncapd stopped"
grep -q '"type":"summary".*"packets":1000,"metered":1000,.*"flows":1,.*"exported":{"records":1,"packets":1000,' \
  "$D/fl9.out" && grep -q "capture $PF ended" "$D/fl9.out" &&
  ok "ncap-flow -i ncap: metered and exported 1 flow of 1000 packets" || fail "ncap-flow -i ncap: $(cat "$D/fl9.out")"
n8=$(capinfos -T -r -c "$D/d8.pcapng" 2>&1 | cut -f2)
[ "$n8" = 1000 ] && grep -q "capture $PF ended" "$D/d8.err" &&
  ok "ncap-dump -i ncap: wrote 1000 frames (capinfos) and was told the capture ended" ||
  fail "ncap-dump -i ncap: capinfos says $n8: $(cat "$D/d8.err")"
grep -q '"type":"summary".*"packets":1000,' "$D/c5.out" && grep -q "capture $PF ended" "$D/c5.out" &&
  ok "ncap-count -f received 1000 and was told the capture ended" || fail "ncap-count -f: $(cat "$D/c5.out")"
[ "$($FRAMES count "$D/f6.pcap")" = 1000 ] && ok "NCAP_FILTER: 1000 frames in the file" ||
  fail "NCAP_FILTER: $($FRAMES count "$D/f6.pcap") frames: $(cat "$D/f6.err")"
[ "$($FRAMES count "$D/f7.pcap")" = 1000 ] && ok "tcpdump expression: 1000 frames in the file" ||
  fail "tcpdump expression: $($FRAMES count "$D/f7.pcap") frames: $(cat "$D/f7.err")"
[ "$g7" = "4000 1000 3000" ] && ok "tcpdump's expression ran in ncapd (group alone)" ||
  fail "tcpdump's expression: group offered delivered filtered = $g7"

# ncapd killed (SIGKILL) under a member without NCAP_GROUP (a group of its own): tcpdump
# is told at its next receive and exits non-zero; ncap-stat --clean removes the files.
P2=${PORT}k
printf '%s = model:82599?gen=inf&size=64\n' $P2 >"$D/ncapd2.conf"
"$NCAPD" --config "$D/ncapd2.conf" >"$D/ncapd2.log" 2>&1 &
daemon=$!
for i in $(seq 100); do grep -q "serving 1 port" "$D/ncapd2.log" && break; sleep 0.05; done
pre tcpdump -i ncap:$P2 -w /dev/null 2>"$D/k.err" &
tp=$!
sleep 1
kill -KILL $daemon
wait $daemon 2>/dev/null  # killed: no status to check
(sleep 10 && kill $tp) >/dev/null 2>&1 &  # a tcpdump that never notices fails, not hangs
watchdog=$!
if wait $tp; then fail "killed ncapd: tcpdump exited 0"; fi
kill $watchdog 2>/dev/null
grep -q "capture $P2 ended" "$D/k.err" && ok "killed ncapd: $(grep ended "$D/k.err")" ||
  fail "killed ncapd: $(cat "$D/k.err")"
"$STAT" --clean 2>&1 | grep -q "removed the files of ring:$P2" || fail "ncap-stat --clean left $P2's files"
[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
