#!/usr/bin/env bash
# Installs every Debian package ncap needs on a fresh Debian 12 (bookworm) machine, as root.
# Idempotent and quiet when everything is present. Never adds trixie: QEMU >= 8 (for the
# emulated igb in the lab) comes from bookworm-backports, see shared/lab.md.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: must run as root (it installs Debian packages and reserves hugepages)." >&2
  echo "  fix: sudo $0" >&2
  exit 1
fi

# Packages from bookworm proper.
BASE_PKGS=(
  build-essential g++ meson ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libboost-program-options-dev libfmt-dev libpcap-dev libhyperscan-dev
  linux-libc-dev clang libclang-rt-14-dev llvm clang-format-14
  busybox-static cpio gzip xz-utils kmod iproute2 tcpdump python3
  tshark tcpreplay nfdump softflowd
)
# Packages that must come from bookworm-backports (QEMU 10 and what it drags along;
# libdpdk-dev needs libelf/libbpf from backports once QEMU pulled those in).
BPO_PKGS=(qemu-system-x86)
# libxdp-dev (AF_XDP for the kernel backend) goes with the backports libbpf.
BPO_PINNED=(libelf-dev/bookworm-backports libbpf-dev/bookworm-backports libdpdk-dev libxdp-dev)

have_all() {
  local p
  for p in "$@"; do
    p=${p%%/*}
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 1
  done
}

qemu_new_enough() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 || return 1
  local v
  v=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -1)
  [ "${v:-0}" -ge 8 ]
}

ensure_backports_entry() {
  local f=/etc/apt/sources.list.d/ncap-bookworm-backports.sources
  grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
  # Same mirror and keyring as the existing Debian entry.
  local uri="http://deb.debian.org/debian"
  local found
  found=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 | awk '{print $2}') || true
  [ -n "${found:-}" ] && uri=$found
  cat >"$f" <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  echo "setup.sh: added $f"
}

apt_updated=0
apt_update() {
  [ "$apt_updated" = 1 ] && return 0
  # A third-party entry that cannot be reached must not stop us: Debian's own lists are what we need.
  apt-get update -qq >/dev/null 2>&1 || apt-get update -qq 2>&1 | grep -v '^W:' >&2 || true
  apt_updated=1
}

export DEBIAN_FRONTEND=noninteractive
APT_INSTALL=(apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0)

ensure_backports_entry
if ! have_all "${BASE_PKGS[@]}"; then
  apt_update
  "${APT_INSTALL[@]}" "${BASE_PKGS[@]}" >/dev/null
fi
if ! qemu_new_enough; then
  apt_update
  "${APT_INSTALL[@]}" -t bookworm-backports "${BPO_PKGS[@]}" >/dev/null
fi
if ! have_all "${BPO_PINNED[@]}"; then
  apt_update
  "${APT_INSTALL[@]}" "${BPO_PINNED[@]}" >/dev/null
fi

# Hugepages for DMA memory (2 MiB pages) and a hugetlbfs mount for shared pools.
want=${NCAP_HUGEPAGES:-512}
cur=$(cat /proc/sys/vm/nr_hugepages)
if [ "$cur" -lt "$want" ]; then
  echo "$want" >/proc/sys/vm/nr_hugepages || true
fi
if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages || echo "setup.sh: warning: could not mount hugetlbfs on /dev/hugepages" >&2
fi
# Kernel modules for the netns tests (veth); built in on some kernels.
modprobe veth 2>/dev/null || true
exit 0
