#include "common/frames.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace ncap::app {
namespace {

// splitmix64: a fast, well-mixed pure function of (seed, i).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t k = 0; k + 1 < n; k += 2) acc += uint32_t(p[k]) << 8 | p[k + 1];
  if (n & 1) acc += uint32_t(p[n - 1]) << 8;
  return acc;
}

uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return uint16_t(~acc);
}

// Address of flow f: the configured address with f added to its last 16 bits (IPv4:
// last two bytes; IPv6: last two bytes), so flows stay inside a /16 (or /112).
void flow_address(const std::array<uint8_t, 16>& base, bool ipv6, uint32_t f, uint8_t* out) {
  size_t n = ipv6 ? 16 : 4;
  std::memcpy(out, base.data(), n);
  uint16_t low = uint16_t((out[n - 2] << 8 | out[n - 1]) + f);
  out[n - 2] = uint8_t(low >> 8), out[n - 1] = uint8_t(low);
}

}  // namespace

uint16_t frame_size(const FrameSpec& s, uint64_t i) {
  uint32_t span = uint32_t(s.size.max - s.size.min) + 1;
  return uint16_t(s.size.min + (span == 1 ? 0 : mix(s.seed * 0x10001 + i) % span));
}

uint32_t frame_flow(const FrameSpec& s, uint64_t i) { return s.flows <= 1 ? 0 : uint32_t(i % s.flows); }

uint16_t build_frame(const FrameSpec& s, uint64_t i, uint8_t* out) {
  uint16_t len = frame_size(s, i);
  uint32_t f = frame_flow(s, i);
  std::memcpy(out, s.dst_mac.data(), 6);
  std::memcpy(out + 6, s.src_mac.data(), 6);
  uint8_t* l3 = out + 14;
  size_t l3_len = s.ipv6 ? 40 : 20;
  uint8_t* l4 = l3 + l3_len;
  size_t l4_hdr = s.proto == 6 ? 20 : 8;
  size_t l4_total = len - 14 - l3_len;  // header + payload
  // Payload: sequence number, then the pattern.
  uint8_t* pay = l4 + l4_hdr;
  size_t pay_len = l4_total - l4_hdr;
  for (size_t k = 0; k < pay_len; ++k) pay[k] = uint8_t(i + k);
  for (size_t k = 0; k < 8 && k < pay_len; ++k) pay[k] = uint8_t(i >> (56 - 8 * k));
  // Transport header: flow f shifts both ports.
  std::memset(l4, 0, l4_hdr);
  put16(l4, uint16_t(s.src_port + f));
  put16(l4 + 2, uint16_t(s.dst_port + f));
  uint8_t src[16], dst[16];
  flow_address(s.src_ip, s.ipv6, f, src);
  flow_address(s.dst_ip, s.ipv6, f, dst);
  if (s.proto == 6) {
    uint32_t seq = uint32_t(i);
    l4[4] = uint8_t(seq >> 24), l4[5] = uint8_t(seq >> 16), l4[6] = uint8_t(seq >> 8), l4[7] = uint8_t(seq);
    l4[12] = 0x50;  // data offset 5 words
    l4[13] = 0x18;  // PSH ACK
    put16(l4 + 14, 65535);
  } else {
    put16(l4 + 4, uint16_t(l4_total));
  }
  // Pseudo-header checksum (RFC 768 / 793 / 8200 8.1).
  uint32_t acc = sum16(src, s.ipv6 ? 16 : 4) + sum16(dst, s.ipv6 ? 16 : 4) + s.proto + uint32_t(l4_total);
  acc = sum16(l4, l4_total, acc);
  uint16_t ck = fold(acc);
  if (s.proto == 17 && ck == 0) ck = 0xffff;
  put16(l4 + (s.proto == 6 ? 16 : 6), ck);
  if (s.ipv6) {
    put16(out + 12, 0x86dd);
    std::memset(l3, 0, 40);
    l3[0] = 0x60;
    put16(l3 + 4, uint16_t(l4_total));
    l3[6] = s.proto;
    l3[7] = 64;
    std::memcpy(l3 + 8, src, 16);
    std::memcpy(l3 + 24, dst, 16);
  } else {
    put16(out + 12, 0x0800);
    std::memset(l3, 0, 20);
    l3[0] = 0x45;
    put16(l3 + 2, uint16_t(len - 14));
    put16(l3 + 4, uint16_t(i));  // identification
    l3[8] = 64;
    l3[9] = s.proto;
    std::memcpy(l3 + 12, src, 4);
    std::memcpy(l3 + 16, dst, 4);
    put16(l3 + 10, fold(sum16(l3, 20)));
  }
  return len;
}

bool parse_ip(const std::string& text, bool ipv6, std::array<uint8_t, 16>& out) {
  out.fill(0);
  return inet_pton(ipv6 ? AF_INET6 : AF_INET, text.c_str(), out.data()) == 1;
}

bool parse_mac(const std::string& text, std::array<uint8_t, 6>& out) {
  unsigned b[6];
  char extra;
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &extra) != 6)
    return false;
  for (int k = 0; k < 6; ++k) {
    if (b[k] > 0xff) return false;
    out[k] = uint8_t(b[k]);
  }
  return true;
}

}  // namespace ncap::app
