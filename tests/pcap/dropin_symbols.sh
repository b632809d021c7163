#!/bin/sh
# Compares the drop-in libpcap.so.0.8's exports with the real library's, symbol by
# symbol (name and kind), and its SONAME. Usage: dropin_symbols.sh DROPIN_SO REAL_SO
set -u
ours=$1 real=$2
list() { nm -D --defined-only "$1" | awk '$2 ~ /^[TDBR]$/ { k = ($2 == "T") ? "function" : "data"; print $3, k }' | sort; }
list "$real" >/tmp/ncap-real-syms.$$
list "$ours" >/tmp/ncap-our-syms.$$
missing=$(comm -23 /tmp/ncap-real-syms.$$ /tmp/ncap-our-syms.$$)
rm -f /tmp/ncap-real-syms.$$ /tmp/ncap-our-syms.$$
rc=0
if [ -n "$missing" ]; then
  echo "FAIL: the drop-in lacks (or has of another kind) these exports of $real:"
  echo "$missing"
  rc=1
fi
soname=$(objdump -p "$ours" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = libpcap.so.0.8 ] || { echo "FAIL: SONAME is '$soname', want libpcap.so.0.8"; rc=1; }
vers=$(objdump -T "$ours" | grep -c ' pcap_[a-z_]*@@\| pcap_[a-z_]*@[A-Z]')
[ "$vers" = 0 ] || { echo "FAIL: $vers versioned pcap symbols (Debian's are unversioned)"; rc=1; }
[ $rc = 0 ] && echo "ok: all $(nm -D --defined-only "$real" | wc -l) exports of $real present, SONAME libpcap.so.0.8"
exit $rc
