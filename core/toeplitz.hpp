// The Toeplitz hash that Intel NICs use for RSS (82599 datasheet rev 3.x section 7.1.2.8.1,
// 82576 datasheet rev 2.x section 7.1.1.7, the Microsoft RSS specification). One
// implementation for everyone: drivers take the default key from here, the models in
// tests/model hash with it, and the tests check models and drivers against it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ncap {

using RssKey = std::array<uint8_t, 40>;

// The key ncap's drivers program when DeviceConfig::rss_key is all zero: the key of the
// Microsoft RSS verification suite, so hashes can be checked against published values.
extern const RssKey kDefaultRssKey;

// Hash of `len` input bytes (network order, as the NIC concatenates them: source address,
// destination address, source port, destination port). len <= 36 (IPv6 4-tuple).
uint32_t toeplitz_hash(const RssKey& key, const uint8_t* input, size_t len) noexcept;

// What the NIC hashes for one frame, given which hash types are enabled. Returns the
// number of input bytes written to `input` (0: the frame is not hashed) and sets
// `rss_type` to the descriptor's RSS Type code (82599 datasheet 7.1.6.2: 1 TCPv4,
// 2 IPv4, 3 TCPv6, 5 IPv6, 7 UDPv4, 8 UDPv6; 0 none).
struct RssFieldsEnabled {
  bool ipv4 = false, tcp_ipv4 = false, udp_ipv4 = false;
  bool ipv6 = false, tcp_ipv6 = false, udp_ipv6 = false;
};
size_t rss_input(const uint8_t* frame, size_t len, const RssFieldsEnabled& en, uint8_t* input,
                 uint8_t* rss_type) noexcept;

}  // namespace ncap
