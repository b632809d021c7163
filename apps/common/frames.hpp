// Synthetic frames for ncap-gen: frame i is a pure function of (spec, i), so what was
// sent can be rebuilt exactly (--write-pcap, tests) and a receiver can check it. Each
// frame carries its sequence number (8 bytes, big endian) at the start of the L4
// payload, then the pattern byte (i + k) & 0xff; IPv4 header and UDP/TCP checksums are
// valid.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/app.hpp"

namespace ncap::app {

struct FrameSpec {
  SizeRange size{60, 60};
  uint32_t flows = 1;  // flow f varies source/destination address and ports by f
  std::array<uint8_t, 6> src_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  std::array<uint8_t, 6> dst_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  std::array<uint8_t, 16> src_ip{};  // IPv4 in the first 4 bytes
  std::array<uint8_t, 16> dst_ip{};
  bool ipv6 = false;
  uint8_t proto = 17;  // 17 UDP, 6 TCP
  uint16_t src_port = 1024, dst_port = 9;
  uint64_t seed = 1;

  size_t header_bytes() const { return 14 + (ipv6 ? 40 : 20) + (proto == 6 ? 20 : 8); }
};

uint16_t frame_size(const FrameSpec& s, uint64_t i);  // in [size.min, size.max]
uint32_t frame_flow(const FrameSpec& s, uint64_t i);  // in [0, flows)
// Writes frame i into out (at least size.max bytes) and returns its length.
uint16_t build_frame(const FrameSpec& s, uint64_t i, uint8_t* out);

// Parses "a.b.c.d" or an IPv6 address; returns false if it is neither.
bool parse_ip(const std::string& text, bool ipv6, std::array<uint8_t, 16>& out);
bool parse_mac(const std::string& text, std::array<uint8_t, 6>& out);

}  // namespace ncap::app
