#!/usr/bin/env python3
"""Holds `nfdump -o json` output to the trace it came from: per flow key (addresses,
ports, protocol) the packets and IP bytes (IPv4 total length, IPv6 payload + 40) summed
over every record of the key (active-timeout splits and evictions make several). Exits
1 naming the first difference. With --biflow, a key is a conversation in the direction
of its first packet and the reverse direction's packets and bytes are nfdump's
out_packets / out_bytes (nfdump maps the RFC 5103 reverse counters, PEN 29305, there).
Usage: flow_check.py [--biflow] TRACE.pcap NFDUMP.json [LABEL]"""
import ipaddress
import json
import struct
import sys


def trace_flows(path, biflow):
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
            rk = (str(dst), str(src), dport, sport, proto)
            if biflow and k not in flows and rk in flows:
                p, b, rp, rb = flows[rk]
                flows[rk] = (p, b, rp + 1, rb + iplen)
                continue
            p, b, rp, rb = flows.get(k, (0, 0, 0, 0))
            flows[k] = (p + 1, b + iplen, rp, rb)
    return flows


def exported_flows(path):
    flows, records = {}, 0
    for r in json.load(open(path)):
        src = r.get("src4_addr") or r.get("src6_addr")
        dst = r.get("dst4_addr") or r.get("dst6_addr")
        k = (str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst)), r["src_port"], r["dst_port"], r["proto"])
        p, b, rp, rb = flows.get(k, (0, 0, 0, 0))
        flows[k] = (p + r["in_packets"], b + r["in_bytes"], rp + r.get("out_packets", 0), rb + r.get("out_bytes", 0))
        records += 1
    return flows, records


def main():
    args = sys.argv[1:]
    biflow = args[:1] == ["--biflow"]
    args = args[1:] if biflow else args
    want = trace_flows(args[0], biflow)
    got, records = exported_flows(args[1])
    label = args[2] if len(args) > 2 else args[1]
    total = lambda d, i: sum(v[i] for v in d.values())
    print(f"{label}: trace {len(want)} flows {total(want, 0)} packets {total(want, 1)} bytes, reverse "
          f"{total(want, 2)} packets {total(want, 3)} bytes; collector {len(got)} flows ({records} records) "
          f"{total(got, 0)} packets {total(got, 1)} bytes, reverse {total(got, 2)} packets {total(got, 3)} bytes")
    for k in sorted(set(want) | set(got)):
        if want.get(k) != got.get(k):
            print(f"{label}: flow {k}: trace (packets, bytes, reverse packets, reverse bytes) {want.get(k)}, "
                  f"collector {got.get(k)}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
