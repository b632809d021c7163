// Frame builder and packet buffers for the filter tests. A FrameSpec is the ground
// truth the reference implementations read; make_frame() turns it into bytes.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "ncap/filter.hpp"
#include "ncap/packet.hpp"

namespace ncap::test {

struct FrameSpec {
  std::array<uint8_t, 6> dst_mac{0x02, 0, 0, 0, 0, 0x02};
  std::array<uint8_t, 6> src_mac{0x02, 0, 0, 0, 0, 0x01};
  std::vector<uint16_t> vlans;  // outer first
  uint8_t ip_version = 4;       // 0 = not IP: ethertype below
  uint16_t ethertype = 0x0806;  // used when ip_version == 0
  std::array<uint8_t, 16> src_ip{10, 0, 0, 1};
  std::array<uint8_t, 16> dst_ip{10, 0, 0, 2};
  uint8_t proto = 17;
  uint16_t sport = 1000, dport = 53;
  uint8_t tcp_flags = 0x18;  // PSH|ACK
  uint16_t frag_offset = 0;  // 8-byte units
  bool more_fragments = false;
  unsigned ip_option_bytes = 0;   // IPv4 options (multiple of 4)
  std::vector<uint8_t> ipv6_ext;  // extension header types before the transport
  std::string payload;

  bool first_fragment_or_whole() const { return frag_offset == 0; }
  bool has_ports() const { return (proto == 6 || proto == 17 || proto == 132) && ip_version != 0 && frag_offset == 0; }
};

inline void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

inline std::vector<uint8_t> make_frame(const FrameSpec& s) {
  std::vector<uint8_t> b(s.dst_mac.begin(), s.dst_mac.end());
  b.insert(b.end(), s.src_mac.begin(), s.src_mac.end());
  for (size_t i = 0; i < s.vlans.size(); ++i) {
    put16(b, i == 0 && s.vlans.size() > 1 ? 0x88a8 : 0x8100);
    put16(b, s.vlans[i]);
  }
  if (s.ip_version == 0) {
    put16(b, s.ethertype);
    b.insert(b.end(), s.payload.begin(), s.payload.end());
    while (b.size() < 60) b.push_back(0);
    return b;
  }
  // transport header + payload
  std::vector<uint8_t> l4;
  if (s.frag_offset == 0) {
    switch (s.proto) {
      case 6:
        put16(l4, s.sport);
        put16(l4, s.dport);
        for (int i = 0; i < 8; ++i) l4.push_back(0);  // seq, ack
        l4.push_back(5 << 4);
        l4.push_back(s.tcp_flags);
        put16(l4, 65535);
        put16(l4, 0);
        put16(l4, 0);  // window, checksum, urgent
        break;
      case 17:
        put16(l4, s.sport);
        put16(l4, s.dport);
        put16(l4, static_cast<uint16_t>(8 + s.payload.size()));
        put16(l4, 0);
        break;
      case 132:
        put16(l4, s.sport);
        put16(l4, s.dport);
        for (int i = 0; i < 8; ++i) l4.push_back(0);  // verification tag, checksum
        break;
      case 1:
      case 58:
        l4 = {8, 0, 0, 0, 0, 1, 0, 1};  // echo request
        break;
      default: break;
    }
  }
  l4.insert(l4.end(), s.payload.begin(), s.payload.end());
  if (s.ip_version == 4) {
    put16(b, 0x0800);
    unsigned ihl = 20 + s.ip_option_bytes;
    b.push_back(static_cast<uint8_t>(0x40 | (ihl / 4)));
    b.push_back(0);
    put16(b, static_cast<uint16_t>(ihl + l4.size()));
    put16(b, 0x1234);
    put16(b, static_cast<uint16_t>((s.more_fragments ? 0x2000 : 0) | s.frag_offset));
    b.push_back(64);
    b.push_back(s.proto);
    put16(b, 0);
    b.insert(b.end(), s.src_ip.begin(), s.src_ip.begin() + 4);
    b.insert(b.end(), s.dst_ip.begin(), s.dst_ip.begin() + 4);
    for (unsigned i = 0; i < s.ip_option_bytes; ++i) b.push_back(1);  // NOP options
  } else {
    put16(b, 0x86dd);
    std::vector<uint8_t> ext;
    std::vector<uint8_t> chain = s.ipv6_ext;
    bool frag = s.frag_offset || s.more_fragments;
    if (frag) chain.push_back(44);
    for (size_t i = 0; i < chain.size(); ++i) {
      uint8_t next = i + 1 < chain.size() ? chain[i + 1] : s.proto;
      if (chain[i] == 44) {
        ext.push_back(next);
        ext.push_back(0);
        put16(ext, static_cast<uint16_t>((s.frag_offset << 3) | (s.more_fragments ? 1 : 0)));
        put16(ext, 0);
        put16(ext, 0x1234);
      } else {
        ext.push_back(next);
        ext.push_back(0);  // 8 bytes
        for (int k = 0; k < 6; ++k) ext.push_back(0);
      }
    }
    uint8_t first = chain.empty() ? s.proto : chain[0];
    b.push_back(0x60);
    b.push_back(0);
    b.push_back(0);
    b.push_back(0);
    put16(b, static_cast<uint16_t>(ext.size() + l4.size()));
    b.push_back(first);
    b.push_back(64);
    b.insert(b.end(), s.src_ip.begin(), s.src_ip.end());
    b.insert(b.end(), s.dst_ip.begin(), s.dst_ip.end());
    b.insert(b.end(), ext.begin(), ext.end());
  }
  b.insert(b.end(), l4.begin(), l4.end());
  while (b.size() < 60) b.push_back(0);  // Ethernet minimum (without FCS): padding
  return b;
}

// A Packet with metadata and exactly `bytes.size()` bytes of frame behind it, so that
// AddressSanitizer reports any read past the captured length.
class PacketBuf {
 public:
  explicit PacketBuf(const std::vector<uint8_t>& bytes) : size_(Packet::kMetaSize + bytes.size()) {
    mem_ = static_cast<uint8_t*>(::operator new(size_, std::align_val_t(64)));
    std::memset(mem_, 0, Packet::kMetaSize);
    if (!bytes.empty()) std::memcpy(mem_ + Packet::kMetaSize, bytes.data(), bytes.size());
    pkt()->len = static_cast<uint16_t>(bytes.size());
  }
  ~PacketBuf() { ::operator delete(mem_, std::align_val_t(64)); }
  PacketBuf(const PacketBuf&) = delete;
  PacketBuf& operator=(const PacketBuf&) = delete;
  PacketBuf(PacketBuf&& o) noexcept : mem_(o.mem_), size_(o.size_) { o.mem_ = nullptr; }
  Packet* pkt() const { return reinterpret_cast<Packet*>(mem_); }

 private:
  uint8_t* mem_;
  size_t size_;
};

inline std::array<uint8_t, 16> ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }
inline std::array<uint8_t, 16> ip6(const char* s) {
  std::array<uint8_t, 16> a{};
  inet_pton(AF_INET6, s, a.data());
  return a;
}

// The IPv4 prefix of `len` bits holding `base`.
inline AddrRange ip4_prefix(uint32_t base, int len) {
  AddrRange a;
  a.version = 4;
  const uint32_t lo = len ? base & (~0u << (32 - len)) : 0, hi = lo | (len == 32 ? 0 : ~0u >> len);
  a.lo = ip4(uint8_t(lo >> 24), uint8_t(lo >> 16), uint8_t(lo >> 8), uint8_t(lo));
  a.hi = ip4(uint8_t(hi >> 24), uint8_t(hi >> 16), uint8_t(hi >> 8), uint8_t(hi));
  return a;
}

// s changed to hit rule r's addresses, protocol and destination port (reversed: the
// reply's direction, for a bidirectional rule).
inline void aim_at(FrameSpec& s, const WildcardRule& r, bool reversed) {
  if (!r.dst.any()) s.dst_ip = r.dst.hi;
  if (!r.src.any()) s.src_ip = r.src.lo;
  if (r.proto >= 0) s.proto = uint8_t(r.proto);
  if (!r.dport.any()) s.dport = r.dport.lo;
  if (r.bidir && reversed) {
    std::swap(s.src_ip, s.dst_ip);
    std::swap(s.sport, s.dport);
  }
}

// A ClassBench-like wildcard rule from generator g (prefixes of 10.0.0.0/14 or
// anywhere, exact ports with 0 and a popular 80, port ranges, protocols, continue,
// bidirectional and IPv6 rules); plain: an IPv4 5-tuple stop rule only.
template <class Gen>
WildcardRule classbench_rule(Gen& g, uint32_t id, bool plain) {
  WildcardRule r;
  r.id = id;
  r.action = g() % 2 ? Action::drop : Action::pass;
  r.stop = g() % 4 != 0 || plain;
  r.bidir = g() % 6 == 0 && !plain;
  static const int dlens[] = {0, 16, 24, 32};
  static const int slens[] = {0, 0, 8, 24, 32};
  int dl = dlens[g() % 4], sl = slens[g() % 5];
  if (dl) r.dst = ip4_prefix(0x0a000000u | (g() & 0x3ffu) << 8 | (g() & 3), dl);
  if (sl) r.src = ip4_prefix(g() % 3 ? uint32_t(g()) : 0x0a000000u | (g() & 0x3ff) << 8, sl);
  int p = int(g() % 10);
  r.proto = int16_t(p < 4 ? 6 : p < 8 ? 17 : -1);
  int d = int(g() % 10);
  if (d < 5) r.dport = {uint16_t(g() % 4 == 0 ? 0 : g() % 3 == 0 ? 80 : g() % 64), 0};  // 80: a popular port
  if (d < 5) r.dport.hi = r.dport.lo;
  else if (d < 7) r.dport = {uint16_t(g() % 64), uint16_t(64 + g() % 64)};
  if (g() % 5 == 0) r.sport = {1024, 65535};
  if (g() % 12 == 0 && !dl && !sl && !plain) {  // IPv6 rule with ports
    r.ip_version = 6;
  }
  return r;
}

}  // namespace ncap::test
