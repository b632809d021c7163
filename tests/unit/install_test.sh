#!/bin/sh
# `meson install` puts the library, the public headers, the pkg-config file and the tools
# in place, and a program built with `pkg-config --cflags --libs ncap` alone links and runs.
set -eu
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
root=$dest$prefix
for f in include/ncap/ncap.hpp include/ncap/device.hpp bin/ncap-bind "$libdir/pkgconfig/ncap.pc"; do
  [ -e "$root/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
ls "$root/$libdir"/libncap.so* >/dev/null || { echo "FAIL: no shared library"; exit 1; }
ls "$root/$libdir"/libncap.a >/dev/null || { echo "FAIL: no static library"; exit 1; }
if ls "$root/include/ncap" | grep -q -e log.hpp -e mmio.hpp; then echo "FAIL: internal header installed"; exit 1; fi
cat >"$dest/probe.cpp" <<'CPP'
#include <ncap/ncap.hpp>
#include <cstdio>
int main() {
  auto a = ncap::PciAddress::parse("0000:03:00.0");
  std::printf("%s %zu\n", a->str().c_str(), sizeof(ncap::Packet));
  return 0;
}
CPP
# A sanitizer build installs an instrumented library; the probe must carry the runtime too.
san=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="sanitize"][0])')
extra=""
[ "$san" = "True" ] && extra="-fsanitize=address,undefined"
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_PATH="$root/$libdir/pkgconfig"
c++ -std=c++20 "$dest/probe.cpp" -o "$dest/probe" $extra $(pkg-config --cflags --libs ncap)
out=$(LD_LIBRARY_PATH="$root/$libdir" "$dest/probe")
[ "$out" = "0000:03:00.0 128" ] || { echo "FAIL: probe printed '$out'"; exit 1; }
echo "PASS install"
