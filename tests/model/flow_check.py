#!/usr/bin/env python3
"""Holds `nfdump -o json` output to the trace it came from: per flow key (addresses,
ports, protocol) the packets and IP bytes (IPv4 total length, IPv6 payload + 40) summed
over every record of the key (active-timeout splits and evictions make several). Exits
1 naming the first difference. Usage: flow_check.py TRACE.pcap NFDUMP.json [LABEL]"""
import ipaddress
import json
import struct
import sys


def trace_flows(path):
    flows = {}
    with open(path, "rb") as f:
        magic = struct.unpack("<I", f.read(24)[:4])[0]
        end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        while True:
            hdr = f.read(16)
            if len(hdr) < 16:
                break
            caplen = struct.unpack(end + "IIII", hdr)[2]
            fr = f.read(caplen)
            etype = struct.unpack(">H", fr[12:14])[0]
            if etype == 0x0800:
                ihl = (fr[14] & 0x0F) * 4
                iplen = struct.unpack(">H", fr[16:18])[0]
                proto = fr[23]
                src, dst = ipaddress.ip_address(fr[26:30]), ipaddress.ip_address(fr[30:34])
                l4 = 14 + ihl
            elif etype == 0x86DD:
                iplen = 40 + struct.unpack(">H", fr[18:20])[0]
                proto = fr[20]
                src, dst = ipaddress.ip_address(fr[22:38]), ipaddress.ip_address(fr[38:54])
                l4 = 54
            else:
                continue
            sport, dport = struct.unpack(">HH", fr[l4 : l4 + 4]) if proto in (6, 17) else (0, 0)
            k = (str(src), str(dst), sport, dport, proto)
            p, b = flows.get(k, (0, 0))
            flows[k] = (p + 1, b + iplen)
    return flows


def exported_flows(path):
    flows, records = {}, 0
    for r in json.load(open(path)):
        src = r.get("src4_addr") or r.get("src6_addr")
        dst = r.get("dst4_addr") or r.get("dst6_addr")
        k = (str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst)), r["src_port"], r["dst_port"], r["proto"])
        p, b = flows.get(k, (0, 0))
        flows[k] = (p + r["in_packets"], b + r["in_bytes"])
        records += 1
    return flows, records


def main():
    want = trace_flows(sys.argv[1])
    got, records = exported_flows(sys.argv[2])
    label = sys.argv[3] if len(sys.argv) > 3 else sys.argv[2]
    wp, wb = sum(v[0] for v in want.values()), sum(v[1] for v in want.values())
    gp, gb = sum(v[0] for v in got.values()), sum(v[1] for v in got.values())
    print(f"{label}: trace {len(want)} flows {wp} packets {wb} bytes; "
          f"collector {len(got)} flows ({records} records) {gp} packets {gb} bytes")
    for k in sorted(set(want) | set(got)):
        if want.get(k) != got.get(k):
            print(f"{label}: flow {k}: trace (packets, bytes) {want.get(k)}, collector {got.get(k)}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
