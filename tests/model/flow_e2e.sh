#!/bin/sh
# ncap-flow end to end against independent tools: ncap-gen writes a trace of known flows
# (on a model port), ncap-flow meters it (pcap:) and exports to nfcapd (nfdump 1.7);
# `nfdump -o json` must list exactly the trace's flows with exactly their packets and
# IP bytes (tests/model/flow_check.py reads the trace itself). Cases: IPFIX, UDP over
# IPv4; NetFlow v9, TCP over IPv6 through a cache of 8 entries (evictions); and
# softflowd on the first trace as the differential peer (same checker); tshark's cflow
# dissector decodes the IPFIX datagrams (captured on lo) without malformed packets;
# --biflow records of a two-way trace (tests/model/biflow_trace.py) in both decoders.
# Usage: flow_e2e.sh NCAP_GEN NCAP_FLOW FLOW_CHECK_PY
set -eu
gen=$1 flow=$2 check=$3
for t in nfcapd nfdump python3 softflowd tcpdump tshark; do
  if ! command -v $t >/dev/null 2>&1; then
    echo "flow_e2e: $t is not installed (scripts/setup.sh installs it)"
    [ -n "${CI:-}" ] && exit 1
    exit 77
  fi
done
capture=1  # tcpdump on lo needs root; CI runs as root
if [ "$(id -u)" != 0 ]; then
  [ -n "${CI:-}" ] && { echo "flow_e2e: CI must run this as root (tcpdump on lo)"; exit 1; }
  echo "flow_e2e: not root: the tshark check is left out"
  capture=0
fi
dir=$(mktemp -d)
pid= tpid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$tpid" ] && kill "$tpid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# collect NAME CMD...: nfcapd on a free port, CMD (with PORT replaced) exports to it,
# then nfcapd stops (SIGTERM writes its last file) and nfdump dumps it as JSON. With
# CAPTURE=1 tcpdump also records the datagrams on lo into NAME.pcap (for tshark);
# --immediate-mode: without it libpcap hands over a ring block after its 1 s timeout,
# and a run shorter than that could end before a datagram was written.
collect() {
  name=$1; shift
  port=$(free_port)
  mkdir -p "$dir/$name"
  nfcapd -w "$dir/$name" -b 127.0.0.1 -p "$port" -t 2 >"$dir/$name.nfcapd.log" 2>&1 &
  pid=$!
  if [ "${CAPTURE:-0}" = 1 ]; then
    tcpdump -i lo -Z root -U --immediate-mode -w "$dir/$name.pcap" udp port "$port" 2>"$dir/$name.tcpdump.log" &
    tpid=$!
    for _ in $(seq 50); do grep -qs listening "$dir/$name.tcpdump.log" && break; sleep 0.1; done
  fi
  sleep 0.5
  cmd=$(echo "$*" | sed "s/PORT/$port/g")
  sh -c "$cmd" >"$dir/$name.out"
  sleep 0.5
  if [ -n "$tpid" ]; then kill -INT "$tpid"; wait "$tpid" || true; tpid=; fi
  kill -TERM "$pid"; wait "$pid" || true; pid=
  nfdump -R "$dir/$name" -o json >"$dir/$name.json"
  dport=$port
}

"$gen" -i model:82599 -c 5000 --flows 50 --size 60-300 -w "$dir/udp4.pcap" >/dev/null
"$gen" -i model:82599 -c 3000 --flows 40 --size 74-600 --ipv6 --proto tcp -w "$dir/tcp6.pcap" >/dev/null

CAPTURE=$capture collect ipfix "$flow -i pcap:$dir/udp4.pcap -n ipfix://127.0.0.1:PORT --json"
python3 "$check" "$dir/udp4.pcap" "$dir/ipfix.json" "ncap-flow IPFIX"
grep -q '"exported":{"records":50,"packets":5000' "$dir/ipfix.out" || { cat "$dir/ipfix.out"; exit 1; }
# tshark's cflow dissector, a second independent decoder: every record, nothing malformed.
[ "$capture" = 1 ] && tshark -r "$dir/ipfix.pcap" -d "udp.port==$dport,cflow" -V >"$dir/ipfix.tshark" 2>&1
decoded=$(grep -c 'Flow End Reason: Forced end (4)' "$dir/ipfix.tshark" 2>/dev/null || true)
if [ "$capture" = 1 ] && { [ "$decoded" != 50 ] || grep -qi malformed "$dir/ipfix.tshark"; }; then
  echo "flow_e2e: tshark decoded $decoded of 50 records (or found malformed packets)"
  grep -i -m3 malformed "$dir/ipfix.tshark"
  exit 1
fi
[ "$capture" = 1 ] && echo "tshark cflow: 50 records decoded, none malformed"

collect v9 "$flow -i pcap:$dir/tcp6.pcap -n v9://127.0.0.1:PORT --entries 8 --export-rate 5000 --json"
python3 "$check" "$dir/tcp6.pcap" "$dir/v9.json" "ncap-flow v9, 8 entries"
grep -q '"packets":3000,"metered":3000' "$dir/v9.out" || { cat "$dir/v9.out"; exit 1; }
grep -q '"evicted":0' "$dir/v9.out" && { echo "flow_e2e: an 8-entry cache over 40 flows evicted nothing"; cat "$dir/v9.out"; exit 1; }
grep -q '"export_ring_full":0,"export_ring_full_packets":0,"send_errors":0' "$dir/v9.out" || { cat "$dir/v9.out"; exit 1; }

# --biflow (RFC 5103): one record per conversation (12 UDP/IPv4, 8 TCP/IPv6 closed by
# both FINs), the responder's packets and bytes in the reverse counters (PEN 29305):
# nfdump 1.7 shows them as out_packets / out_bytes, tshark as "(Reverse Type 2 PKTS)".
python3 "$(dirname "$check")/biflow_trace.py" "$dir/twoway.pcap"
CAPTURE=$capture collect biflow "$flow -i pcap:$dir/twoway.pcap -n ipfix://127.0.0.1:PORT --biflow --json"
python3 "$check" --biflow "$dir/twoway.pcap" "$dir/biflow.json" "ncap-flow IPFIX --biflow"
grep -q '"end_of_flow":8,"forced":12' "$dir/biflow.out" || { cat "$dir/biflow.out"; exit 1; }
grep -q '"exported":{"records":20,"packets":268' "$dir/biflow.out" || { cat "$dir/biflow.out"; exit 1; }
if [ "$capture" = 1 ]; then
  tshark -r "$dir/biflow.pcap" -d "udp.port==$dport,cflow" -V >"$dir/biflow.tshark" 2>&1
  rev=$(awk '/\(Reverse Type 2 PKTS\)/ { n++; p += $2 } END { print n + 0, p + 0 }' "$dir/biflow.tshark")
  if [ "$rev" != "20 106" ] || grep -qi malformed "$dir/biflow.tshark"; then
    echo "flow_e2e: tshark found (records, reverse packets) $rev, want 20 106 (or malformed packets)"
    exit 1
  fi
  echo "tshark cflow: 20 biflow records, 106 reverse packets, none malformed"
fi
"$flow" -i "pcap:$dir/twoway.pcap" -n v9://127.0.0.1:9 --biflow >"$dir/biflow-v9.out" 2>&1 && exit 1
grep -q "NetFlow v9 has no reverse fields" "$dir/biflow-v9.out" || { cat "$dir/biflow-v9.out"; exit 1; }

collect softflowd "softflowd -r $dir/udp4.pcap -v 10 -n 127.0.0.1:PORT -d"
python3 "$check" "$dir/udp4.pcap" "$dir/softflowd.json" "softflowd IPFIX (peer)"
# A model port as the source, no collector listening: every generated frame is metered or
# a counted NIC drop, and every metered packet is in an exported record (the refused
# datagrams are counted as send errors, not a failure).
"$flow" -i 'model:82599?gen=5000&flows=50' -n "127.0.0.1:$(free_port)" -d 1.5 --json --quiet >"$dir/model.out" 2>/dev/null
python3 - "$dir/model.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
dr = d["drops"]
offered = d["metered"] + dr["nic_missed"] + dr["nic_no_descriptor"] + dr["pool_empty"] + dr["frame_errors"] + dr["filtered"] + dr["not_ip"]
print(f"model source: offered {offered} = metered {d['metered']} + NIC drops; exported {d['exported']['packets']} packets in {d['exported']['records']} records, send errors {dr['send_errors']}")
ok = offered == 5000 and d["exported"]["packets"] == d["metered"] and d["exported"]["records"] == 50
sys.exit(0 if ok else 1)
PY
echo "flow_e2e: ok"
