#include "core/toeplitz.hpp"

#include <cstring>

namespace ncap {

const RssKey kDefaultRssKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

// For every set bit of the input (most significant first) XOR in the 32 key bits that
// start at that bit position. `window` holds key bits [i, i+32) as the loop walks.
uint32_t toeplitz_hash(const RssKey& key, const uint8_t* input, size_t len) noexcept {
  uint32_t hash = 0;
  uint32_t window = (uint32_t(key[0]) << 24) | (uint32_t(key[1]) << 16) | (uint32_t(key[2]) << 8) | key[3];
  for (size_t i = 0; i < len; ++i) {
    uint8_t next = i + 4 < key.size() ? key[i + 4] : 0;
    for (int b = 7; b >= 0; --b) {
      if (input[i] & (1u << b)) hash ^= window;
      window = (window << 1) | ((next >> b) & 1u);
    }
  }
  return hash;
}

namespace {
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
uint16_t be16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
}  // namespace

size_t rss_input(const uint8_t* f, size_t len, const RssFieldsEnabled& en, uint8_t* in, uint8_t* rss_type) noexcept {
  *rss_type = 0;
  if (len < 14) return 0;
  size_t l3 = 14;
  uint16_t et = be16(f + 12);
  if (et == kEtherVlan && len >= 18) {
    et = be16(f + 16);
    l3 = 18;
  }
  if (et == kEtherIpv4 && len >= l3 + 20) {
    const uint8_t* ip = f + l3;
    size_t ihl = size_t(ip[0] & 0x0f) * 4;
    bool fragment = (be16(ip + 6) & 0x3fff) != 0;  // MF or offset: no L4 header to hash
    uint8_t proto = ip[9];
    const uint8_t* l4 = ip + ihl;
    bool l4_ok = !fragment && l3 + ihl + 4 <= len;
    std::memcpy(in, ip + 12, 8);
    if (l4_ok && proto == kProtoTcp && en.tcp_ipv4) {
      std::memcpy(in + 8, l4, 4);
      *rss_type = 1;
      return 12;
    }
    if (l4_ok && proto == kProtoUdp && en.udp_ipv4) {
      std::memcpy(in + 8, l4, 4);
      *rss_type = 7;
      return 12;
    }
    if (en.ipv4) {
      *rss_type = 2;
      return 8;
    }
    return 0;
  }
  if (et == kEtherIpv6 && len >= l3 + 40) {
    const uint8_t* ip = f + l3;
    uint8_t next = ip[6];  // extension headers are not walked: they hash as IPv6 only
    const uint8_t* l4 = ip + 40;
    bool l4_ok = l3 + 44 <= len;
    std::memcpy(in, ip + 8, 32);
    if (l4_ok && next == kProtoTcp && en.tcp_ipv6) {
      std::memcpy(in + 32, l4, 4);
      *rss_type = 3;
      return 36;
    }
    if (l4_ok && next == kProtoUdp && en.udp_ipv6) {
      std::memcpy(in + 32, l4, 4);
      *rss_type = 8;
      return 36;
    }
    if (en.ipv6) {
      *rss_type = 5;
      return 32;
    }
  }
  return 0;
}

}  // namespace ncap
