#!/usr/bin/env bash
# The main job (the README's first command): set everything up, build, boot the lab
# (a QEMU guest with two emulated Intel 82576 ports on one hub, behind a virtual Intel
# IOMMU, bound to vfio-pci) and, inside it, run ncap-gen on port 0 and ncap-count on
# port 1, both through VFIO with ncap's userspace igb driver.
# Options: NCAP_DEMO_FRAMES (default 200000), NCAP_DEMO_RATE (default 30k pps).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
build=${NCAP_BUILD:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
echo "== booting the lab: 2 x 82576 behind intel-iommu, bound to vfio-pci"
exec scripts/lab run --ports 2 \
  --env "NCAP_DEMO_FRAMES=${NCAP_DEMO_FRAMES:-200000}" --env "NCAP_DEMO_RATE=${NCAP_DEMO_RATE:-30k}" \
  -- sh scripts/demo_in_guest.sh "$PWD/$build/apps"
