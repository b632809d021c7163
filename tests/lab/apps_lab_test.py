#!/usr/bin/env python3
"""Issue-3 acceptance through the tools, in one lab boot (two 82576 ports on one hub):

1. ncap-gen sends N mixed-size frames on port 0, ncap-count receives exactly N with
   exactly the bytes sent; QEMU's filter-dump of port 0, and what the hub hands to a
   host socket, match ncap-gen's own record (--write-pcap) frame by frame.
3. Frames the host injects through the hub's stream socket reach ncap-count on port 1
   byte for byte (its -w pcap).
4. A consumer slower than the offered load: frames sent = consumed + drops by reason.
5. SIGINT mid-stream: exit 0 with the summary; the port opens again at once; the
   guest kernel log shows no DMA fault.
7. Zero copy to another process: ncap-count --publish on port 1, a second ncap-count
   reads ring:NAME@0 and gets exactly the frames and bytes ncap-gen sent.
6. Bad input in the guest, with Linux's igb driver holding one port
   (apps_in_guest.sh checks messages and exit codes).
(2, RSS against a software Toeplitz hash, is lab-igb.)

usage: apps_lab_test.py LAB NCAP-GEN NCAP-COUNT NCAP-BIND GUEST-SCRIPT
"""

import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

N = int(os.environ.get("NCAP_LAB_N", "100000"))
INJECT = 500
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("CHECK FAILED: " + what, flush=True)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(end + "IIII", data[off:off + 16])
        frames.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return frames


def injected_frames(port1_mac):
    """INJECT frames of random sizes 60..1514: unicast to port 1, broadcast, multicast,
    and unicast to nobody (port 1 is promiscuous), IPv4 or a raw ethertype."""
    rnd = random.Random(3)
    dsts = [port1_mac, b"\xff" * 6, bytes.fromhex("01005e000001"), bytes.fromhex("020000c0ffee")]
    out = []
    for i in range(INJECT):
        size = rnd.randint(60, 1514)
        dst = dsts[i % len(dsts)]
        src = bytes.fromhex("02000000aa") + bytes([i & 0xFF])
        etype = b"\x08\x00" if i % 2 else b"\x88\xb5"
        body = struct.pack(">I", i) + bytes(rnd.getrandbits(8) for _ in range(size - 18))
        out.append(dst + src + etype + body)
    return out


class Hub:
    """The host's end of the hub's stream socket: records every frame the hub sends
    (4-byte big-endian length + frame) and injects frames on request."""

    def __init__(self, path):
        self.path, self.frames, self.sock = path, [], None
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + 60
        while not os.path.exists(self.path) and time.monotonic() < deadline:
            time.sleep(0.01)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                s.connect(self.path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)
        self.sock = s
        self.connected.set()
        buf = b""
        while True:
            try:
                chunk = s.recv(1 << 20)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 4:
                n = struct.unpack(">I", buf[:4])[0]
                if len(buf) < 4 + n:
                    break
                self.frames.append(buf[4:4 + n])
                buf = buf[4 + n:]

    def inject(self, frames):
        self.connected.wait(10)
        for f in frames:
            self.sock.sendall(struct.pack(">I", len(f)) + f)


def load_json(path):
    with open(path) as f:
        text = f.read().strip()
    return json.loads(text.splitlines()[-1])


def drops(summary):
    return sum(summary["drops"].values())


def main():
    lab, gen, count, bind, script = sys.argv[1:6]
    if shutil.which("qemu-system-x86_64") is None:
        print("SKIP: qemu-system-x86_64 not installed (scripts/setup.sh installs it)")
        return 77
    tmp = tempfile.mkdtemp(prefix="ncap-lab-apps-")
    run = os.path.join(tmp, "run")
    out = os.path.join(run, "out")
    dump, sock, dmesg = (os.path.join(tmp, x) for x in ("port0.pcap", "hub.sock", "dmesg"))
    hub = Hub(sock)
    inject = []
    t0 = time.monotonic()
    p = subprocess.Popen([lab, "run", "--ports", "2", "--keep", run, "--dump", "0=" + dump, "--stream", sock,
                          "--dmesg", dmesg, "--timeout", "500", "--env", f"NCAP_LAB_N={N}",
                          "--env", f"NCAP_LAB_INJECT={INJECT}", "--", "sh", script, gen, count, bind],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = []
    for raw in p.stdout:
        line = raw.decode("utf-8", errors="replace")
        output.append(line)
        print(f"[{time.monotonic() - t0:6.1f}s] {line}", end="", flush=True)
        m = re.match(r"MACS (\S+),(\S+)$", line.strip())
        if m:
            inject[:] = injected_frames(bytes.fromhex(m.group(2).replace(":", "")))
        if line.strip() == "INJECT-NOW":
            threading.Thread(target=hub.inject, args=(inject,), daemon=True).start()
    rc = p.wait()
    text = "".join(output)
    check(rc == 0, f"lab run exited {rc}")
    check("PASS apps_in_guest" in text, "the guest script did not pass")
    if rc == 125:
        return 1

    # 1. N frames, exact bytes, and the wire record matches ncap-gen's record.
    try:
        g1, c1 = load_json(os.path.join(out, "gen1.json")), load_json(os.path.join(out, "count1.json"))
        sent = read_pcap(os.path.join(out, "gen1.pcap"))
        check(g1["frames"] == N and len(sent) == N, f"ncap-gen sent {g1['frames']} ({len(sent)} in its pcap), want {N}")
        sent_bytes = sum(len(f) for f in sent)
        check(g1["bytes"] == sent_bytes, f"ncap-gen reports {g1['bytes']} bytes, its pcap has {sent_bytes}")
        check(min(map(len, sent)) <= 80 and max(map(len, sent)) >= 1490, "sizes do not span 60..1514")
        check(c1["packets"] == N, f"ncap-count received {c1['packets']}, want exactly {N}")
        check(c1["bytes"] == sent_bytes, f"ncap-count received {c1['bytes']} bytes, want exactly {sent_bytes}")
        check(drops(c1) == 0, f"drops in phase 1: {c1['drops']}")
        check(c1["hw"]["rx_packets"] == N and c1["hw"]["rx_bytes"] == sent_bytes + 4 * N,
              f"NIC counters {c1['hw']}, want {N} packets, {sent_bytes + 4 * N} bytes (with FCS)")
        check(g1["hw"]["tx_packets"] == N, f"port 0 GPTC {g1['hw']['tx_packets']}, want {N}")
        wire = read_pcap(dump)
        check(len(wire) >= N, f"filter-dump of port 0 has {len(wire)} frames, want at least {N}")
        bad = next((i for i in range(min(N, len(wire))) if wire[i] != sent[i]), None)
        check(bad is None, f"filter-dump frame {bad} differs from what ncap-gen meant to send")
        hubbed = hub.frames[:N]
        bad = next((i for i in range(len(hubbed)) if hubbed[i] != sent[i]), None)
        check(len(hubbed) == N and bad is None,
              f"the hub socket got {len(hubbed)} of port 0's frames, first difference at {bad}")
    except (OSError, KeyError, ValueError) as e:
        check(False, f"phase 1 results missing: {e}")

    # 3. Injected frames arrive byte for byte.
    try:
        c3 = load_json(os.path.join(out, "count3.json"))
        got = read_pcap(os.path.join(out, "inject_rx.pcap"))
        check(c3["packets"] == INJECT, f"ncap-count got {c3['packets']} injected frames, want {INJECT}")
        check(len(got) == INJECT, f"its pcap has {len(got)} frames, want {INJECT}")
        bad = next((i for i in range(min(len(got), INJECT)) if got[i] != inject[i]), None)
        check(bad is None, f"injected frame {bad} arrived different")
    except (OSError, KeyError, ValueError) as e:
        check(False, f"phase 3 results missing: {e}")

    # 4. Conservation with a slow consumer.
    try:
        g4, c4 = load_json(os.path.join(out, "gen4.json")), load_json(os.path.join(out, "count4.json"))
        check(g4["frames"] == 20000, f"ncap-gen sent {g4['frames']}, want 20000")
        check(c4["consumed"] + drops(c4) == g4["frames"],
              f"consumed {c4['consumed']} + drops {c4['drops']} != sent {g4['frames']}")
        check(c4["delivered"] == c4["consumed"] + c4["drops"]["consumer_full"], f"delivered != consumed + full: {c4}")
        check(c4["drops"]["consumer_full"] > 0, "the slow consumer never fell behind")
    except (OSError, KeyError, ValueError) as e:
        check(False, f"phase 4 results missing: {e}")

    # 7. A consumer process reads the port's packets in place: exactly what was sent.
    try:
        g7, c7 = load_json(os.path.join(out, "gen7.json")), load_json(os.path.join(out, "cons7.json"))
        p7 = load_json(os.path.join(out, "pub7.json"))
        check(c7["packets"] == g7["frames"] == 5000, f"consumer got {c7['packets']} of {g7['frames']} (want 5000)")
        check(c7["bytes"] == g7["bytes"], f"consumer got {c7['bytes']} bytes, ncap-gen sent {g7['bytes']}")
        grp = p7["groups"][0]
        check(grp["delivered"] == 5000 and grp["ring_full"] == 0 and grp["no_consumer"] == 0,
              f"publisher's group counters {grp}, want 5000 delivered, no drop")
    except (OSError, KeyError, ValueError, IndexError) as e:
        check(False, f"phase 7 results missing: {e}")

    # 5. SIGINT: exit 0, summary, reopen, no DMA fault.
    check("count5_exit=0" in text, "ncap-count did not exit 0 on SIGINT")
    check(re.search(r"ncap-count: \S+ received \d+ packets", text) is not None, "no summary after SIGINT")
    check("count5b_exit=0" in text, "the port did not open again at once after SIGINT")
    check("gen5_exit=0" in text, "ncap-gen did not exit 0 on SIGINT")
    try:
        c5b = load_json(os.path.join(out, "count5b.json"))
        check(c5b["packets"] >= 1000, f"reopened port got {c5b['packets']} packets, want >= 1000")
    except (OSError, KeyError, ValueError) as e:
        check(False, f"phase 5 results missing: {e}")
    try:
        with open(dmesg) as f:
            log = f.read()
        faults = [l for l in log.splitlines() if re.search(r"DMAR: \[DMA|DRHD: handling fault|dmar_fault|IOMMU fault", l)]
        check(log.strip() != "", "empty guest kernel log")
        check(not faults, "DMA faults in the guest kernel log:\n" + "\n".join(faults[:5]))
    except OSError as e:
        check(False, f"no guest kernel log: {e}")

    if failures:
        print(f"FAIL: {len(failures)} checks failed; results kept in {tmp}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"PASS: {N} frames exact, {INJECT} injected frames exact, conservation, SIGINT, bad input")
    return 0


if __name__ == "__main__":
    sys.exit(main())
