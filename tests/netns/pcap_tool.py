#!/usr/bin/env python3
"""Small classic-pcap helper for the trace tests (reads both byte orders, us and ns).
  pcap_tool.py same A B        exit 0 when A and B hold the same frames in the same order
  pcap_tool.py gaps OUT N MS   write N 60-byte UDP frames MS milliseconds apart
  pcap_tool.py bytes A         print the sum of A's captured frame lengths
"""
import struct
import sys

def frames(path):
    data = open(path, "rb").read()
    magic = data[:4]
    order = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}[magic]
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(order + "IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out

def main():
    if sys.argv[1] == "same":
        a, b = frames(sys.argv[2]), frames(sys.argv[3])
        if len(a) != len(b):
            sys.exit(f"{len(a)} frames vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                sys.exit(f"frame {i} differs ({len(x)} vs {len(y)} bytes)")
        print(f"ok: {len(a)} frames, {sum(map(len, a))} bytes, byte for byte and in order")
    elif sys.argv[1] == "bytes":
        print(sum(map(len, frames(sys.argv[2]))))
    elif sys.argv[1] == "gaps":
        n, ms = int(sys.argv[3]), int(sys.argv[4])
        eth = bytes.fromhex("020000000002" "020000000001" "0800")
        ip = bytes.fromhex("4500002e00000000401100000a0000010a010001")  # 46 bytes of IP
        udp = bytes.fromhex("04000009001a0000")
        frame = eth + ip + udp + bytes(18)
        assert len(frame) == 60
        with open(sys.argv[2], "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
            for i in range(n):
                t = 1_000_000 + i * ms * 1000  # microseconds
                f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), len(frame)) + frame)

main()
