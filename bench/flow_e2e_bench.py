#!/usr/bin/env python3
"""flow_e2e_bench: a trace file metered end to end, ncap-flow against softflowd (issue 19).

ncap-gen writes one trace (default 2 M 60-byte UDP frames over 10000 flows); in the same
run, alternating, R times each:
  ncap-flow -i pcap:TRACE --entries 65536 -n 127.0.0.1:PORT --quiet --json
  softflowd -r TRACE -v 10 -m 65536 -n 127.0.0.1:PORT -d        (Debian's, the peer)
both exporting IPFIX to one UDP socket this script holds (not read: the collector's cost
is no tool's). For reference, also the trace readers alone:
  ncap-count -i pcap:TRACE      and      tcpdump -r TRACE -w /dev/null
Each tool's best wall time and its CPU time (user + system of the process, wait4) give
  compare flow_e2e_softflowd_pps ours=<Mpps> peer=softflowd:<Mpps> ratio=<ours/peer>
  compare flow_e2e_softflowd_cpu_pps ours=<Mpps per CPU s> peer=softflowd:<...> ratio=...
  reader <tool> wall_mpps=<..> cpu_mpps=<..>
ncap-flow's summary must say every packet was metered and exported, else the run fails.
Usage: flow_e2e_bench.py BUILD_DIR [--frames N] [--flows F] [--size S] [--runs R]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def timed(cmd):
    """Runs cmd; returns (wall s, cpu s, stdout)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"flow_e2e_bench: {' '.join(cmd)} exited {p.returncode}")
    return wall, ru.ru_utime + ru.ru_stime, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--frames", type=int, default=2_000_000)
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--size", type=int, default=60)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    apps = os.path.join(a.build, "apps")
    gen, flow, count = (os.path.join(apps, t, t) for t in ("ncap-gen", "ncap-flow", "ncap-count"))
    print(f"# flow_e2e_bench: cpu \"{cpu_model()}\" x{os.cpu_count()}, {a.frames} frames of {a.size} bytes, "
          f"{a.flows} flows, best of {a.runs}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "trace.pcap")
        subprocess.run([gen, "-i", "model:82599", "-c", str(a.frames), "--flows", str(a.flows), "--size",
                        str(a.size), "-w", trace], check=True, stdout=subprocess.DEVNULL)
        tools = {
            "ncap-flow": [flow, "-i", "pcap:" + trace, "--entries", "65536", "-n", f"127.0.0.1:{port}",
                          "--quiet", "--json"],
            "softflowd": ["softflowd", "-r", trace, "-v", "10", "-m", "65536", "-n", f"127.0.0.1:{port}", "-d"],
            "ncap-count": [count, "-i", "pcap:" + trace],
            "tcpdump": ["tcpdump", "-r", trace, "-w", "/dev/null"],
        }
        best = {t: (1e9, 1e9) for t in tools}
        for _ in range(a.runs):
            for t, cmd in tools.items():
                wall, cpu, out = timed(cmd)
                if t == "ncap-flow":
                    s = json.loads(out.strip().splitlines()[-1])
                    if s["metered"] != a.frames or s["exported"]["packets"] != a.frames:
                        sys.exit(f"flow_e2e_bench: ncap-flow metered {s['metered']}, exported "
                                 f"{s['exported']['packets']} of {a.frames} packets")
                best[t] = (min(best[t][0], wall), min(best[t][1], cpu))
    mpps = {t: (a.frames / w / 1e6, a.frames / c / 1e6) for t, (w, c) in best.items()}
    for i, metric in enumerate(("flow_e2e_softflowd_pps", "flow_e2e_softflowd_cpu_pps")):
        ours, peer = mpps["ncap-flow"][i], mpps["softflowd"][i]
        print(f"compare {metric} ours={ours:.2f} peer=softflowd:{peer:.2f} ratio={ours / peer:.2f}")
    for t in ("ncap-count", "tcpdump"):
        print(f"reader {t} wall_mpps={mpps[t][0]:.2f} cpu_mpps={mpps[t][1]:.2f}")


if __name__ == "__main__":
    main()
