// Address rewrite of Ethernet frames for ncap-gen --replay: MACs, and IPv4/IPv6 source or
// destination addresses, offset by the replay's loop number so that every loop is a
// distinct set of flows. Checksums stay valid by incremental update (RFC 1624 eqn. 3,
// HC' = ~(~HC + ~m + m'), over the RFC 1071 ones'-complement sum): the IPv4 header
// checksum, and the TCP, UDP and ICMPv6 checksums whose pseudo-header holds the addresses
// (RFC 9293 3.1, RFC 768, RFC 8200 8.1). An update needs only the changed words, so a
// frame cut short by the snaplen or a first fragment stays correct; later fragments have
// no L4 header and keep theirs. A UDP/IPv4 checksum of 0 means "none" (RFC 768) and stays
// 0; a computed 0 is sent as 0xffff.
//
// The frame is untrusted bytes: every header is checked to lie inside `len` before it is
// read, and what cannot be parsed is left as it is (counted by the caller).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace ncap::app {

struct Rewrite {
  std::optional<std::array<uint8_t, 6>> src_mac, dst_mac;
  // The address given, IPv4 or IPv6; it replaces the frames' address of that family
  // (a trace may hold both: give one of each). Loop l adds l to its last 32 bits.
  std::optional<std::array<uint8_t, 4>> src_ip4, dst_ip4;
  std::optional<std::array<uint8_t, 16>> src_ip6, dst_ip6;
  bool any() const { return src_mac || dst_mac || src_ip4 || dst_ip4 || src_ip6 || dst_ip6; }
  bool ip() const { return src_ip4 || dst_ip4 || src_ip6 || dst_ip6; }
};

// RFC 1071: the ones'-complement of the ones'-complement sum of the 16-bit big-endian
// words of data (an odd last byte padded with zero), starting from `sum`.
uint16_t internet_checksum(const uint8_t* data, size_t len, uint32_t sum = 0) noexcept;

// RFC 1624 eqn. 3: checksum `hc` (as stored, big endian value) after the n bytes (even)
// `before` became `after`.
uint16_t checksum_update(uint16_t hc, const uint8_t* before, const uint8_t* after, size_t n) noexcept;

// Rewrites frame[0, len) in place for loop `loop`. Returns false if an IP rewrite was
// asked for but the frame has no IPv4/IPv6 header of the address's family that could be
// parsed (the frame is then sent unchanged apart from its MACs).
bool rewrite_frame(const Rewrite& r, uint32_t loop, uint8_t* frame, size_t len) noexcept;

}  // namespace ncap::app
