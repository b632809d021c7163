#!/usr/bin/env python3
"""Proves the lab harness itself (scripts/lab), in one boot:
- two 8086:10c9 devices exist in the guest, each bound to vfio-pci, each with its
  /dev/vfio/<iommu group> node, in separate groups;
- NCAP_LAB=1 and NCAP_LAB_PORTS lists exactly those devices;
- HugePages_Total >= 256;
- the command runs in the caller's cwd, its argv arrives intact, its stdout comes back
  byte for byte, its exit status (7) is ours, and --dmesg brings back the kernel log.

usage: harness_test.py [path/to/scripts/lab]
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

LAB = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lab")

# Quotes, shell metacharacters, a tab, non-ASCII: all must survive argv -> guest -> stdout.
PAYLOAD = "exact: 'single' \"double\" $HOME `tick` \\back\tslash ünïcödé *?[x]"

GUEST = r'''
printf '%s\n' "$1"
echo "cwd $(pwd)"
echo "env NCAP_LAB=$NCAP_LAB NCAP_LAB_PORTS=$NCAP_LAB_PORTS"
for d in /sys/bus/pci/devices/*; do
  [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x8086:0x10c9 ] || continue
  drv=$(readlink "$d/driver"); grp=$(readlink "$d/iommu_group"); grp=${grp##*/}
  node=missing; [ -c "/dev/vfio/$grp" ] && node=present
  echo "dev ${d##*/} driver=${drv##*/} group=$grp node=$node"
done
grep HugePages_Total /proc/meminfo
exit 7
'''

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def main():
    if shutil.which("qemu-system-x86_64") is None:
        print("SKIP: qemu-system-x86_64 not installed (scripts/setup.sh installs it)")
        return 77  # meson's "skipped"
    with tempfile.TemporaryDirectory(prefix="ncap-lab-harness-") as tmp:
        dmesg = os.path.join(tmp, "dmesg")
        p = subprocess.run([LAB, "run", "--dmesg", dmesg, "--", "sh", "-c", GUEST, "sh", PAYLOAD],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = p.stdout.decode("utf-8", errors="replace")
        err = p.stderr.decode("utf-8", errors="replace")
        if p.returncode == 125:
            print(f"FAIL: the guest reported no status:\n{err}")
            return 1
        check(p.returncode == 7, f"exit status {p.returncode}, want 7 (propagated from the guest)")
        lines = out.split("\n")
        check(lines[0] == PAYLOAD, f"first line {lines[0]!r}, want {PAYLOAD!r} exactly")
        check(f"cwd {os.getcwd()}" in lines, f"guest cwd is not {os.getcwd()}")

        devs = re.findall(r"^dev (\S+) driver=(\S*) group=(\S*) node=(\S+)$", out, re.M)
        check(len(devs) == 2, f"{len(devs)} devices 8086:10c9 in the guest, want 2")
        for bdf, drv, grp, node in devs:
            check(drv == "vfio-pci", f"{bdf} is bound to {drv or 'no driver'}, want vfio-pci")
            check(node == "present", f"{bdf}: /dev/vfio/{grp} missing")
        check(len({g for _, _, g, _ in devs}) == len(devs), "ports share an IOMMU group")

        m = re.search(r"^env NCAP_LAB=(\S*) NCAP_LAB_PORTS=(\S*)$", out, re.M)
        check(m is not None, "no env line")
        if m:
            check(m.group(1) == "1", f"NCAP_LAB={m.group(1)!r}, want 1")
            ports = m.group(2).split(",")
            check(sorted(ports) == sorted(b for b, _, _, _ in devs),
                  f"NCAP_LAB_PORTS={m.group(2)} does not list the 8086:10c9 devices")

        m = re.search(r"^HugePages_Total:\s+(\d+)$", out, re.M)
        check(m is not None and int(m.group(1)) >= 256,
              f"HugePages_Total {m.group(1) if m else 'missing'}, want >= 256")

        try:
            with open(dmesg) as f:
                log = f.read()
        except OSError:
            log = ""
        check("Linux version" in log and "vfio" in log.lower(), "--dmesg did not bring back the guest kernel log")

    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        print("--- guest output:\n" + out + "--- lab stderr:\n" + err)
        return 1
    print(out, end="")
    print("PASS: lab harness (2 ports on vfio-pci, own IOMMU groups, hugepages, status, stdout)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
