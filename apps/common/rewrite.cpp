#include "common/rewrite.hpp"

#include <cstring>

namespace ncap::app {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86dd, kEtherVlan = 0x8100, kEtherQinQ = 0x88a8;
constexpr uint8_t kTcp = 6, kUdp = 17, kIcmpv6 = 58;
// IPv6 extension headers that may stand between the fixed header and TCP/UDP (RFC 8200 4.1).
constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestOpts = 60;

uint16_t load16(const uint8_t* p) noexcept { return uint16_t(p[0] << 8 | p[1]); }
void store16(uint8_t* p, uint16_t v) noexcept { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
uint32_t fold(uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// `base` with loop added to its last 32 bits (big endian, wrapping).
template <size_t N>
std::array<uint8_t, N> offset(const std::array<uint8_t, N>& base, uint32_t loop) noexcept {
  std::array<uint8_t, N> a = base;
  uint32_t v = uint32_t(a[N - 4]) << 24 | uint32_t(a[N - 3]) << 16 | uint32_t(a[N - 2]) << 8 | a[N - 1];
  v += loop;
  for (int i = 0; i < 4; ++i) a[N - 1 - i] = uint8_t(v >> (8 * i));
  return a;
}

// Where the L4 checksum of protocol `proto` sits in its header, or -1 when it has
// none that covers the addresses.
int l4_checksum_at(uint8_t proto) noexcept {
  switch (proto) {
    case kTcp: return 16;
    case kUdp: return 6;
    case kIcmpv6: return 2;
    default: return -1;
  }
}

// Replaces the address at `addr` (n bytes) with `to`, updating the checksum at
// l4 + at (if it lies in the frame) and, for IPv4, the header checksum at `ip_csum`.
void replace(uint8_t* addr, const uint8_t* to, size_t n, uint8_t* l4_csum, bool udp4, uint8_t* ip_csum) noexcept {
  if (std::memcmp(addr, to, n) == 0) return;
  if (ip_csum) store16(ip_csum, checksum_update(load16(ip_csum), addr, to, n));
  if (l4_csum && !(udp4 && load16(l4_csum) == 0)) {
    uint16_t c = checksum_update(load16(l4_csum), addr, to, n);
    store16(l4_csum, udp4 && c == 0 ? 0xffff : c);
  }
  std::memcpy(addr, to, n);
}

bool rewrite_ipv4(const Rewrite& r, uint32_t loop, uint8_t* ip, size_t len) noexcept {
  if (!r.src_ip4 && !r.dst_ip4) return !r.ip();  // an IPv6 rewrite only: not this frame
  if (len < 20 || ip[0] >> 4 != 4) return false;
  const size_t ihl = size_t(ip[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > len) return false;
  const bool first_fragment = (load16(ip + 6) & 0x1fff) == 0;
  const int at = first_fragment ? l4_checksum_at(ip[9]) : -1;
  uint8_t* l4_csum = at >= 0 && ihl + size_t(at) + 2 <= len ? ip + ihl + at : nullptr;
  const bool udp4 = ip[9] == kUdp;
  if (r.src_ip4) replace(ip + 12, offset(*r.src_ip4, loop).data(), 4, l4_csum, udp4, ip + 10);
  if (r.dst_ip4) replace(ip + 16, offset(*r.dst_ip4, loop).data(), 4, l4_csum, udp4, ip + 10);
  return true;
}

bool rewrite_ipv6(const Rewrite& r, uint32_t loop, uint8_t* ip, size_t len) noexcept {
  if (!r.src_ip6 && !r.dst_ip6) return !r.ip();
  if (len < 40 || ip[0] >> 4 != 6) return false;
  uint8_t next = ip[6];
  size_t off = 40;
  bool l4 = true;  // false after a fragment header with a nonzero offset
  for (int hops = 0; hops < 8 && l4; ++hops) {
    if (next != kHopByHop && next != kRouting && next != kDestOpts && next != kFragment) break;
    if (off + 8 > len) {
      l4 = false;
      break;
    }
    if (next == kFragment) {
      l4 = (load16(ip + off + 2) & 0xfff8) == 0;
      next = ip[off];
      off += 8;
    } else {
      next = ip[off];
      off += (size_t(ip[off + 1]) + 1) * 8;
    }
  }
  const int at = l4 ? l4_checksum_at(next) : -1;
  uint8_t* l4_csum = at >= 0 && off + size_t(at) + 2 <= len ? ip + off + at : nullptr;
  if (r.src_ip6) replace(ip + 8, offset(*r.src_ip6, loop).data(), 16, l4_csum, false, nullptr);
  if (r.dst_ip6) replace(ip + 24, offset(*r.dst_ip6, loop).data(), 16, l4_csum, false, nullptr);
  return true;
}

}  // namespace

uint16_t internet_checksum(const uint8_t* data, size_t len, uint32_t sum) noexcept {
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum = fold(sum + load16(data + i));
  if (i < len) sum = fold(sum + (uint32_t(data[i]) << 8));
  return uint16_t(~sum);
}

uint16_t checksum_update(uint16_t hc, const uint8_t* before, const uint8_t* after, size_t n) noexcept {
  uint32_t sum = uint16_t(~hc);
  for (size_t i = 0; i + 1 < n; i += 2) sum = fold(sum + uint16_t(~load16(before + i)) + load16(after + i));
  return uint16_t(~fold(sum));
}

bool rewrite_frame(const Rewrite& r, uint32_t loop, uint8_t* frame, size_t len) noexcept {
  if (len < 14) return !r.ip();
  if (r.dst_mac) std::memcpy(frame, r.dst_mac->data(), 6);
  if (r.src_mac) std::memcpy(frame + 6, r.src_mac->data(), 6);
  if (!r.ip()) return true;
  size_t off = 12;
  uint16_t type = load16(frame + off);
  for (int tags = 0; tags < 2 && (type == kEtherVlan || type == kEtherQinQ) && off + 6 <= len; ++tags) {
    off += 4;
    type = load16(frame + off);
  }
  off += 2;
  if (type == kEtherIpv4) return rewrite_ipv4(r, loop, frame + off, len - off);
  if (type == kEtherIpv6) return rewrite_ipv6(r, loop, frame + off, len - off);
  return false;
}

}  // namespace ncap::app
