#!/usr/bin/env python3
"""Writes a classic pcap of conversations seen from both sides, for ncap-flow --biflow:
12 UDP over IPv4 and 8 TCP over IPv6 (SYN, SYN-ACK, data both ways, FIN both ways),
each with its own packet counts and sizes per direction, interleaved in time.
Usage: biflow_trace.py OUT.pcap"""
import ipaddress
import struct
import sys


def eth(etype):
    return bytes.fromhex("020000000002" "020000000001") + struct.pack(">H", etype)


def ipv4(src, dst, proto, l4):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0, src.packed, dst.packed)
    s = sum(struct.unpack(">10H", h))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return h[:10] + struct.pack(">H", ~s & 0xFFFF) + h[12:] + l4


def ipv6(src, dst, proto, l4):
    return struct.pack(">IHBB16s16s", 6 << 28, len(l4), proto, 64, src.packed, dst.packed) + l4


def udp(sport, dport, n):
    return struct.pack(">HHHH", sport, dport, 8 + n, 0) + b"u" * n


def tcp(sport, dport, flags, n):
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 1, 5 << 4, flags, 65535, 0, 0) + b"t" * n


def conversations():
    """Per conversation: a list of (forward?, frame) in the order sent."""
    out = []
    for i in range(12):
        a, b = ipaddress.ip_address(f"10.1.0.{i + 1}"), ipaddress.ip_address("10.2.0.1")
        seq = []
        for j in range(3 + i):
            seq.append((True, eth(0x0800) + ipv4(a, b, 17, udp(5000 + i, 7777, 10 + j))))
            if j % 2 == 0:
                seq.append((False, eth(0x0800) + ipv4(b, a, 17, udp(7777, 5000 + i, 100 + i))))
        out.append(seq)
    for i in range(8):
        a, b = ipaddress.ip_address(f"fd00::{i + 1}"), ipaddress.ip_address("fd00::ff")
        f = lambda fl, n: (True, eth(0x86DD) + ipv6(a, b, 6, tcp(40000 + i, 443, fl, n)))
        r = lambda fl, n: (False, eth(0x86DD) + ipv6(b, a, 6, tcp(443, 40000 + i, fl, n)))
        seq = [f(0x02, 0), r(0x12, 0), f(0x10, 0)]
        for j in range(i + 1):
            seq += [f(0x18, 50 + j), r(0x18, 500 + 10 * i)]
        seq += [f(0x11, 0), r(0x11, 0)]
        out.append(seq)
    return out


def main():
    convs = conversations()
    frames, t = [], 1_700_000_000_000_000
    while any(convs):  # round robin: the conversations overlap in time
        for c in convs:
            if c:
                frames.append((t, c.pop(0)[1]))
                t += 1000
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, fr in frames:
            fr = fr + b"\0" * max(0, 60 - len(fr))
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(fr), len(fr)) + fr)


if __name__ == "__main__":
    main()
