#!/usr/bin/env python3
"""pcap_veth_bench: Debian's tcpdump -w /dev/null on one veth, through libncap-pcap
(`LD_PRELOAD=libncap-pcap.so tcpdump -i ncap:kernel:VETH`) and through Debian's libpcap
(`tcpdump -i VETH`), the same offered load (ncap-gen in the peer namespace; issue 17).
Per receiver: frames tcpdump captured, loss, and the CPU time of the tcpdump process
(every thread: ncap's poll thread included) per captured frame. Prints
  compare pcap_veth_cpu_per_packet ours=<ns> peer=libpcap:<ns> ratio=<peer/ours>
  compare pcap_veth_received ours=<frames> peer=libpcap:<frames> ratio=<ours/peer>
Root. Usage: pcap_veth_bench.py BUILD_DIR [--frames N] [--size S] [--flows F] [--runs R]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture_bench import Veth, cpu_model, parse_args, received, run_receiver, sender  # noqa: E402


def main():
    a = parse_args(2_000_000)
    gen = os.path.join(a.build, "apps/ncap-gen/ncap-gen")
    lib = os.path.join(a.build, "pcap/libncap-pcap.so")
    print(f"# pcap_veth_bench cpu={cpu_model()!r} frames={a.frames} size={a.size} flows={a.flows}")
    veth = Veth()
    try:
        send = sender(veth, gen, a)
        receivers = (
            ("libncap-pcap", ["env", "LD_PRELOAD=" + lib, "NCAP_RX_SLOTS=16384", "tcpdump", "-i",
                              "ncap:kernel:" + veth.vb, "-w", "/dev/null", "-Z", "root"]),
            ("libpcap", ["tcpdump", "-i", veth.vb, "-w", "/dev/null", "-Z", "root", "-B", "4096"]),
        )
        best = {}
        for run in range(a.runs):
            for name, cmd in receivers:
                sent, _, err, ru = run_receiver(veth, cmd, 1.0, send)
                u, k = ru.ru_utime, ru.ru_stime
                rx = received("tcpdump", "", err)  # both receivers are tcpdump
                ns = (u + k) * 1e9 / max(rx, 1)
                print(f"run {run} {name}: sent {sent['frames']} at {sent['pps']:.0f} pps, captured {rx}, "
                      f"lost {sent['frames'] - rx}, cpu {u:.3f} user + {k:.3f} system s = {ns:.1f} ns per frame, "
                      f"{ru.ru_nvcsw * 1000 / max(rx, 1):.2f} sleeps per 1000 frames")
                if name not in best or ns < best[name][2]:
                    best[name] = (rx, sent["frames"], ns)
        o, p = best["libncap-pcap"], best["libpcap"]
        print(f"compare pcap_veth_cpu_per_packet ours={o[2]:.1f} peer=libpcap:{p[2]:.1f} ratio={p[2] / o[2]:.2f}")
        print(f"compare pcap_veth_received ours={o[0]} peer=libpcap:{p[0]} ratio={o[0] / max(p[0], 1):.2f}")
        print(f"# loss: libncap-pcap {o[1] - o[0]} of {o[1]}; libpcap {p[1] - p[0]} of {p[1]} (lowest-CPU run of {a.runs})")
    finally:
        veth.close()


if __name__ == "__main__":
    main()
