// libFuzzer target: the header parser (its fast path held to its general path) and the
// whole classification path (rules, precise lookup, HTTP, content, BPF) on hostile
// frames. The frame sits in a buffer that ends exactly at the captured length, so ASan
// reports any over-read.
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "filter/parser.hpp"
#include "ncap/filter.hpp"

namespace {
ncap::Filter& filter() {
  static ncap::Filter f(
      ncap::parse_rules("bpf ip or ip6 or vlan\n"
                        "1 pass precise udp src host 10.0.0.1 src port 1 dst host 10.0.0.2 dst port 2\n"
                        "2 drop tcp flags S/SA continue\n"
                        "3 pass tcp http get,post,response\n"
                        "4 drop content \"attack\" nocase\n"
                        "5 drop src net 10.0.0.0/8 dst port 1-1000 bidir\n"
                        "6 pass ip6 dst net 2001:db8::/32\n"
                        "7 drop vlan 5 continue\n"
                        "default drop\n"));
  return f;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 0xffff) return 0;
  void* mem = ::operator new(ncap::Packet::kMetaSize + size, std::align_val_t(64));
  auto* p = static_cast<ncap::Packet*>(mem);
  std::memset(p, 0, ncap::Packet::kMetaSize);
  if (size) std::memcpy(p->data(), data, size);
  p->len = static_cast<uint16_t>(size);
  if (size && (data[0] & 1)) {  // sometimes pretend the NIC stripped a tag
    p->rx_flags = ncap::kRxVlanStripped;
    p->vlan_tci = 5;
  }
  {  // the parser's fast path gives exactly what its general path gives
    ncap::ParsedHeaders fast, general;
    std::memset(&fast, 0xa5, sizeof fast);
    std::memset(&general, 0x5a, sizeof general);
    ncap::parse_headers(p->data(), p->len, p->rx_flags, p->vlan_tci, fast);
    ncap::detail::parse_headers_general(p->data(), p->len, p->rx_flags, p->vlan_tci, general);
    if (std::memcmp(&fast, &general, sizeof fast) != 0) __builtin_trap();
  }
  ncap::Packet* pk[1] = {p};
  ncap::Packet* dr[1];
  uint32_t nd = 0;
  uint32_t keep = filter().apply(pk, 1, dr, &nd, 0);
  if (keep + nd != 1) __builtin_trap();
  const ncap::ParsedHeaders& h = p->parsed;
  if (h.payload_len && uint32_t{h.payload_offset} + h.payload_len > size) __builtin_trap();
  filter().quiescent(0);
  ::operator delete(mem, std::align_val_t(64));
  return 0;
}
