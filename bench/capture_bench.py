#!/usr/bin/env python3
"""capture_bench: receivers on one veth pair, the same offered load to each (issue 15).

Two private network namespaces joined by a veth pair; `ncap-gen -i kernel:SENDER` sends
the same frames (count, size, flows) once per receiver; the receivers, in turn:
  ncap-count -i kernel:RECEIVER          (AF_PACKET TPACKET_V3)
  ncap-count -i kernel:RECEIVER?xdp      (AF_XDP, copy mode on veth)
  tcpdump -i RECEIVER -w /dev/null -B 4096 (Debian's tcpdump and libpcap, its peer)
  tpacket_floor RECEIVER read|copy|prefetch=L (bench/tpacket_floor.cpp: a bare TPACKET_V3
                                          reader, the floor under any AF_PACKET receiver;
                                          prefetch: read with software prefetches L lines ahead)
For each: frames received, loss (what the sender sent and the receiver did not get),
and the receiving process's CPU time (user + system, from wait4's rusage) per received
frame, its split and the receiver's sleeps (voluntary context switches: its wakeups) per
1000 frames; each receiver also runs once with no traffic (the CPU an idle capture costs,
startup included). The compare lines take each receiver's median over the runs. Prints
  compare veth_cpu_per_packet_<mode> ours=<ns> peer=tcpdump:<ns> ratio=<peer/ours>
  compare veth_received_<mode> ours=<frames> peer=tcpdump:<frames> ratio=<ours/peer>
for mode af_packet and af_xdp, and for each floor `# floor_<mode>: <ns>, tcpdump / floor = <x>`
(the highest ratio an AF_PACKET receiver doing that much could reach).
--only NAME,... runs only those receivers (tcpdump always: the ratios are against it).
Root. Usage: capture_bench.py BUILD_DIR [--frames N] [--size S] [--flows F] [--runs R]
             [--prefetch LINES] [--only NAME,...]
"""
import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


class Veth:
    def __init__(self):
        tag = str(os.getpid())
        self.a, self.b = "cb-a-" + tag, "cb-b-" + tag
        self.va, self.vb = "cba" + tag, "cbb" + tag
        sh("ip", "netns", "add", self.a)
        sh("ip", "netns", "add", self.b)
        sh("ip", "link", "add", self.va, "type", "veth", "peer", "name", self.vb)
        sh("ip", "link", "set", self.va, "netns", self.a)
        sh("ip", "link", "set", self.vb, "netns", self.b)
        for ns, dev in ((self.a, self.va), (self.b, self.vb)):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", dev, "up")

    def close(self):
        sh("ip", "netns", "del", self.a, check=False)
        sh("ip", "netns", "del", self.b, check=False)


def run_receiver(veth, cmd, ready_after, send):
    """Starts cmd in namespace b, sends, stops it with SIGINT; returns (sent, stdout, stderr, rusage)."""
    p = subprocess.Popen(["ip", "netns", "exec", veth.b] + cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(ready_after)
    sent = send()
    time.sleep(1.0)  # let the receiver drain its ring
    p.send_signal(signal.SIGINT)
    _, status, ru = os.wait4(p.pid, 0)
    out, err = p.stdout.read(), p.stderr.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, -signal.SIGINT):
        sys.exit(f"capture_bench: {cmd[0]} exited {p.returncode}: {err}")
    return sent, out, err, ru


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def received(name, out, err):
    if name == "tcpdump":
        return next((int(l.split()[0]) for l in err.splitlines() if "packets captured" in l), 0)
    return json.loads(out.strip().splitlines()[-1])["packets"]


def parse_args(frames):
    """BUILD_DIR [--frames N] [--size S] [--flows F] [--runs R] (also pcap_veth_bench.py)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--frames", type=int, default=frames)
    ap.add_argument("--size", default="60")
    ap.add_argument("--flows", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prefetch", type=int, default=16, help="lines ahead for tpacket_floor prefetch")
    ap.add_argument("--only", default="", help="receivers to run, comma-separated (tcpdump always)")
    return ap.parse_args()


def sender(veth, gen, a):
    """A function that sends the load from namespace a and returns ncap-gen's summary."""
    def send():
        r = sh("ip", "netns", "exec", veth.a, gen, "-i", "kernel:" + veth.va, "-c", str(a.frames),
               "-s", a.size, "--flows", str(a.flows), "--json")
        return json.loads(r.stdout.strip().splitlines()[-1])
    return send


def main():
    a = parse_args(3_000_000)
    count = os.path.join(a.build, "apps/ncap-count/ncap-count")
    gen = os.path.join(a.build, "apps/ncap-gen/ncap-gen")
    floor = os.path.join(a.build, "bench/tpacket_floor")
    buildtype = "unknown"
    try:
        info = json.loads(sh("meson", "introspect", "--buildoptions", a.build).stdout)
        buildtype = next(o["value"] for o in info if o["name"] == "buildtype")
    except Exception:
        pass
    print(f"# capture_bench cpu={cpu_model()!r} build={buildtype} frames={a.frames} size={a.size} flows={a.flows}")
    veth = Veth()
    try:
        send = sender(veth, gen, a)
        receivers = (
            ("af_packet", [count, "-i", "kernel:" + veth.vb, "--descriptors", "2048", "--json", "--quiet"], 0.5),
            ("af_xdp", [count, "-i", "kernel:" + veth.vb + "?xdp", "--descriptors", "4096", "--json", "--quiet"], 1.0),
            ("tcpdump", ["tcpdump", "-i", veth.vb, "-w", "/dev/null", "-Z", "root", "-B", "4096"], 1.0),
            ("floor_read", [floor, veth.vb, "read"], 0.5),
            ("floor_copy", [floor, veth.vb, "copy"], 0.5),
            ("floor_prefetch", [floor, veth.vb, f"prefetch={a.prefetch}"], 0.5),
        )
        if a.only:
            keep = set(a.only.split(",")) | {"tcpdump"}
            receivers = tuple(r for r in receivers if r[0] in keep)
        for name, cmd, ready in receivers:
            _, out, err, ru = run_receiver(veth, cmd, ready, lambda: time.sleep(2.0))
            print(f"idle {name}: {received(name, out, err)} frames, cpu {(ru.ru_utime + ru.ru_stime) * 1e3:.1f} ms "
                  f"in {ready + 3.0:.1f} s (startup and exit included), {ru.ru_nvcsw} sleeps")
        runs = {name: [] for name, _, _ in receivers}
        for run in range(a.runs):
            for name, cmd, ready in receivers:
                sent, out, err, ru = run_receiver(veth, cmd, ready, send)
                rx = received(name, out, err)
                u, k = ru.ru_utime, ru.ru_stime
                ns = (u + k) * 1e9 / max(rx, 1)
                wake = ru.ru_nvcsw * 1000 / max(rx, 1)
                print(f"run {run} {name}: sender ncap-gen kernel: sent {sent['frames']} at {sent['pps']:.0f} pps, "
                      f"received {rx}, lost {sent['frames'] - rx}, cpu {u:.3f} user + {k:.3f} system s = "
                      f"{ns:.1f} ns per received frame, {wake:.2f} sleeps per 1000 frames")
                runs[name].append((rx, sent["frames"], ns, sent["pps"]))
        med = {n: tuple(median([r[i] for r in rs]) for i in range(4)) for n, rs in runs.items()}
        p = med["tcpdump"]
        for mode in ("af_packet", "af_xdp"):
            if mode not in med:
                continue
            o = med[mode]
            print(f"compare veth_cpu_per_packet_{mode} ours={o[2]:.1f} peer=tcpdump:{p[2]:.1f} ratio={p[2] / o[2]:.2f}")
            print(f"compare veth_received_{mode} ours={o[0]:.0f} peer=tcpdump:{p[0]:.0f} ratio={o[0] / max(p[0], 1):.2f}")
            print(f"# median of {a.runs} runs, {mode}: loss {o[1] - o[0]:.0f} of {o[1]:.0f} at {o[3]:.0f} pps offered; "
                  f"tcpdump {p[1] - p[0]:.0f} of {p[1]:.0f} at {p[3]:.0f} pps")
        for mode in ("floor_read", "floor_copy", "floor_prefetch"):
            if mode not in med:
                continue
            o = med[mode]
            print(f"# {mode}{'=' + str(a.prefetch) if mode == 'floor_prefetch' else ''}: {o[2]:.1f} ns per received frame, loss {o[1] - o[0]:.0f}, "
                  f"tcpdump / floor = {p[2] / o[2]:.2f}")
    finally:
        veth.close()


if __name__ == "__main__":  # bench/pcap_veth_bench.py imports the veth pair and the runner
    main()
