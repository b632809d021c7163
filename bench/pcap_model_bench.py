#!/usr/bin/env python3
"""pcap_model_bench: the highest rate Debian's tcpdump sustains through libncap-pcap
without loss, where only ncap can be fast (issue 17): a model 82599 port whose generator
sends at a set rate (`model:82599?gen=inf&pps=R`, docs/models.md), tcpdump -c N -w FILE
(tmpfs, snaplen 64). Lossless means tcpdump's own statistics say 0 dropped by kernel
(ps_drop: the handle's ring full, pool empty) and 0 by interface (ps_ifdrop: the NIC had
no descriptor). The rate is the achieved one, from the first and last frame's timestamps.
The rate is raised until a run loses, then bisected. Reference: `tcpdump -r` of the
captured file to /dev/null (what tcpdump itself does with a file: it cannot lose).
Prints
  compare pcap_model_lossless_pps ours=<pps> peer=tcpdump_r:<pps> ratio=<ours/peer>
Usage: pcap_model_bench.py BUILD_DIR [--frames N] [--size S] [--steps K]
"""
import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture_bench import cpu_model  # noqa: E402


def span_pps(path):
    """Achieved rate of a classic pcap file: frames - 1 over first..last timestamp."""
    d = open(path, "rb").read()
    magic = struct.unpack("<I", d[:4])[0]
    div = 1e9 if magic == 0xa1b23c4d else 1e6
    off, ts = 24, []
    while off + 16 <= len(d):
        s, frac, incl, _ = struct.unpack("<IIII", d[off:off + 16])
        ts.append(s + frac / div)
        off += 16 + incl
    return (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 and ts[-1] > ts[0] else 0.0


def capture(lib, pps, a, out):
    spec = f"ncap:model:82599?gen=inf&pps={pps}&size={a.size}&flows=64"
    p = subprocess.run(["env", "LD_PRELOAD=" + lib, "NCAP_RX_SLOTS=16384", "tcpdump", "-i", spec, "-c",
                        str(a.frames), "-s", "64", "-w", out, "-Z", "root"],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        sys.exit(f"tcpdump failed ({p.returncode}): {p.stderr}")
    def num(what):  # tcpdump leaves out "dropped by interface" when it is 0
        m = re.search(r"(\d+) packets? " + what, p.stderr)
        return int(m.group(1)) if m else 0
    return num("captured"), num("dropped by kernel"), num("dropped by interface"), span_pps(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--frames", type=int, default=500_000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5, help="bisection steps after the first loss")
    a = ap.parse_args()
    lib = os.path.join(a.build, "pcap/libncap-pcap.so")
    print(f"# pcap_model_bench cpu={cpu_model()!r} frames={a.frames} size={a.size}")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        out = os.path.join(tmp, "c.pcap")
        best = (0, 0.0)  # (nominal pps, achieved pps) of the fastest lossless run
        lo, hi, pps = 0, 0, 250_000
        for _ in range(40):
            got, kdrop, ifdrop, achieved = capture(lib, pps, a, out)
            ok = kdrop == 0 and ifdrop == 0
            print(f"run pps={pps}: captured {got}, dropped by kernel {kdrop}, by interface {ifdrop}, "
                  f"achieved {achieved:.0f} pps: {'lossless' if ok else 'LOSS'}")
            if ok and achieved > best[1]:
                best = (pps, achieved)
            if ok:
                lo = pps
            else:
                hi = pps
            if not hi:
                pps *= 2
            elif a.steps <= 0 or hi - lo <= max(lo // 50, 1000):
                break
            else:
                a.steps -= 1
                pps = (lo + hi) // 2
        capture(lib, best[0] or 100_000, a, out)  # a lossless file of N frames for the reference
        t = time.perf_counter()
        r = subprocess.run(["tcpdump", "-r", out, "-w", "/dev/null"], capture_output=True, text=True)
        wall = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"tcpdump -r failed: {r.stderr}")
        peer = a.frames / wall
    print(f"compare pcap_model_lossless_pps ours={best[1]:.0f} peer=tcpdump_r:{peer:.0f} ratio={best[1] / peer:.2f}")
    print(f"# highest lossless nominal rate {best[0]} pps; first loss at {hi or 'none'} pps")


if __name__ == "__main__":
    main()
