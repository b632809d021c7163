#!/usr/bin/env python3
"""Reads pcap files for tcpdump_test.sh (the frames only, timestamps ignored).

frames.py same A B       exit 0 when A and B hold the same frames (bytes, lengths) in order
frames.py count A        prints the number of frames
frames.py window A B     exit 0 when A's frames are a consecutive run of B's frames
frames.py match A B PORT exit 0 when A holds exactly B's UDP frames with source port PORT
frames.py flows A B ...  prints the frames in all files, then in each; exit 0 when no flow
                         (both directions of an IPv4 address and port pair) has frames in two files
"""
import struct
import sys


def frames(path):
    data = open(path, 'rb').read()
    magic = struct.unpack('<I', data[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        sys.exit(f'{path}: not a little-endian pcap file (magic {magic:#x})')
    off, out = 24, []
    while off < len(data):
        _, _, caplen, wirelen = struct.unpack('<IIII', data[off:off + 16])
        out.append((wirelen, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return out


def udp_sport(frame):
    f = frame[1]
    return struct.unpack('>H', f[34:36])[0] if len(f) >= 42 and f[12:14] == b'\x08\x00' and f[23] == 17 else None


def flow_key(frame):
    f = frame[1]
    a, b = (f[26:30], f[34:36]), (f[30:34], f[36:38])
    return min(a, b), max(a, b)


def flows(paths):
    owner, counts, bad = {}, [], 0
    for i, path in enumerate(paths):
        counts.append(0)
        for fr in frames(path):
            counts[i] += 1
            if owner.setdefault(flow_key(fr), i) != i:
                bad += 1
    print(sum(counts), *counts)
    if bad:
        print(f'{bad} frames of flows that also sit in another file ({len(owner)} flows)', file=sys.stderr)
    return 1 if bad else 0


def main():
    cmd = sys.argv[1]
    if cmd == 'flows':
        return flows(sys.argv[2:])
    a = frames(sys.argv[2])
    if cmd == 'count':
        print(len(a))
        return 0
    b = frames(sys.argv[3])
    if cmd == 'same':
        bad = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
        if len(a) != len(b) or bad is not None:
            print(f'differ: {len(a)} vs {len(b)} frames, first difference at {bad}')
            return 1
        return 0
    if cmd == 'window':
        if not a:
            return 1
        start = next((i for i, y in enumerate(b) if y == a[0]), None)
        if start is None or b[start:start + len(a)] != a:
            print(f'not a run of consecutive frames of {sys.argv[3]} (first frame at {start})')
            return 1
        return 0
    if cmd == 'match':
        want = [x for x in b if udp_sport(x) == int(sys.argv[4])]
        if a != want:
            print(f'{len(a)} frames, want the {len(want)} with UDP source port {sys.argv[4]}')
            return 1
        return 0
    return 2


sys.exit(main())
