#!/bin/sh
# Runs inside the lab guest: ncap-bind lists the emulated 82576 ports, unbinds one from
# vfio-pci and binds it back. Usage: bind_in_guest.sh PATH/TO/ncap-bind
set -eu
bind=$1
fail() { echo "FAIL: $*"; exit 1; }
port=${NCAP_LAB_PORTS%%,*}
[ -n "$port" ] || fail "NCAP_LAB_PORTS is empty"

list=$("$bind" --list)
echo "$list"
line=$(echo "$list" | grep "^$port ") || fail "$port not listed"
echo "$line" | grep -q "8086:10c9" || fail "wrong id: $line"
echo "$line" | grep -q " 82576 " || fail "chip name missing: $line"
echo "$line" | grep -q " vfio-pci " || fail "not shown as bound to vfio-pci: $line"
echo "$line" | grep -q " ready$" || fail "not shown as ready: $line"
"$bind" --list --json | grep -q "\"address\": \"$port\", \"id\": \"8086:10c9\"" || fail "json listing"

"$bind" --unbind "$port" | grep -q "^$port unbound from vfio-pci" || fail "unbind message"
[ ! -e "/sys/bus/pci/devices/$port/driver" ] || \
  [ "$(basename "$(readlink "/sys/bus/pci/devices/$port/driver")")" != vfio-pci ] || fail "still on vfio-pci"
out=$("$bind" --check "$port" || true)
echo "$out" | grep -q "is bound to no driver, not vfio-pci" || fail "check after unbind: $out"
echo "$out" | grep -q "fix: ncap-bind $port" || fail "check gives no fix: $out"

"$bind" "$port" | grep -q "^$port bound to vfio-pci (IOMMU group [0-9]*)" || fail "bind message"
[ "$(basename "$(readlink "/sys/bus/pci/devices/$port/driver")")" = vfio-pci ] || fail "not bound after bind"
"$bind" --check "$port" | grep -q "^$port: ready for ncap" || fail "check after bind"

out=$("$bind" 00:1e.7 2>&1 || true)
echo "$out" | grep -q "PCI device 0000:00:1e.7 does not exist" || fail "absent address: $out"
out=$("$bind" nonsense 2>&1 || true)
echo "$out" | grep -q "'nonsense' is not a PCI address" || fail "malformed address: $out"
echo "PASS bind_in_guest"
