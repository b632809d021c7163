// Symmetric flow hash for fan-out: hash each endpoint (address, port) separately and
// combine with operations that commute (+ and ^), so swapping source and destination
// gives the same value. The protocol is mixed in after combining.
#include <cstring>

#include "ncap/error.hpp"
#include "ncap/fanout.hpp"

namespace ncap {
namespace {

// Murmur3 finaliser: every input bit affects every output bit.
inline uint32_t fmix32(uint32_t h) noexcept {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

inline uint32_t endpoint(const uint8_t* addr, uint32_t len, uint32_t port) noexcept {
  uint32_t h = 0x9747b28cu ^ port;
  for (uint32_t i = 0; i < len; i += 4) {
    uint32_t w;
    std::memcpy(&w, addr + i, 4);
    h = fmix32(h ^ w) * 5 + 0xe6546b64u;
  }
  return fmix32(h);
}

}  // namespace

const char* to_string(FanOutPolicy p) noexcept {
  switch (p) {
    case FanOutPolicy::round_robin: return "round-robin";
    case FanOutPolicy::flow_hash: return "flow-hash";
    case FanOutPolicy::copy: return "copy";
  }
  return "?";
}

FanOutPolicy parse_policy(const std::string& w) {
  if (w == "rr" || w == "round-robin") return FanOutPolicy::round_robin;
  if (w == "flow" || w == "hash" || w == "flow-hash") return FanOutPolicy::flow_hash;
  if (w == "copy") return FanOutPolicy::copy;
  throw Error("balancing '" + w + "'", EINVAL, "use rr, flow or copy");
}

uint32_t symmetric_flow_hash(const Packet& p) noexcept {
  const ParsedHeaders& ph = p.parsed;
  uint32_t a, b;
  if (ph.flags & (kIpv4 | kIpv6)) {
    uint32_t len = (ph.flags & kIpv6) ? 16 : 4;
    bool ports = ph.flags & kL4Valid;
    a = endpoint(ph.src_ip, len, ports ? ph.src_port : 0);
    b = endpoint(ph.dst_ip, len, ports ? ph.dst_port : 0);
    return fmix32((a + b) ^ (a ^ b) * 31 ^ ph.l4_proto);
  }
  // Not IP: the MAC addresses (destination at 0, source at 6), padded to 8 bytes.
  uint8_t dst[8] = {}, src[8] = {};
  uint32_t caplen = p.len;
  if (caplen >= 12) {
    std::memcpy(dst, p.data(), 6);
    std::memcpy(src, p.data() + 6, 6);
  }
  a = endpoint(dst, 8, 0);
  b = endpoint(src, 8, 0);
  return fmix32((a + b) ^ (a ^ b) * 31 ^ ph.ethertype);
}

}  // namespace ncap
