// The header parser's general path, for tests that hold the fast path to it.
#pragma once

#include <cstdint>

#include "ncap/packet.hpp"

namespace ncap::detail {

// Every frame the parser knows (tags, IPv4 options and fragments, IPv6 extension
// headers, truncated and malformed headers). parse_headers() gives the same result;
// for the common frame it takes a shorter path first.
void parse_headers_general(const uint8_t* frame, uint32_t caplen, uint16_t rx_flags, uint16_t vlan_tci,
                           ParsedHeaders& h) noexcept;

}  // namespace ncap::detail
