// The header parser's two paths: the general one (also for tests that hold the fast
// path to it) and the fast one, inline for the classifier.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "ncap/filter.hpp"
#include "ncap/packet.hpp"

namespace ncap::detail {

// Every frame the parser knows (tags, IPv4 options and fragments, IPv6 extension
// headers, truncated and malformed headers). parse_headers() gives the same result;
// for the common frame it takes a shorter path first.
void parse_headers_general(const uint8_t* frame, uint32_t caplen, uint16_t rx_flags, uint16_t vlan_tci,
                           ParsedHeaders& h) noexcept;

// Header constants and reads of the parser.
constexpr uint16_t kEthVlan = 0x8100;     // IEEE 802.1Q
constexpr uint16_t kEthQinQ = 0x88a8;     // IEEE 802.1ad service tag
constexpr uint16_t kEthQinQOld = 0x9100;  // pre-standard QinQ
constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint32_t kEthHeader = 14;
constexpr uint32_t kVlanTag = 4;
constexpr unsigned kMaxTags = 2;  // outer + inner; a third tag ends the parse
constexpr uint32_t kIpv4MinHeader = 20;
constexpr uint32_t kIpv6Header = 40;
// Extension headers walked before giving up (RFC 8200 recommends each appear at most
// once or twice; a longer chain is hostile).
constexpr unsigned kMaxIpv6Ext = 8;

constexpr uint8_t kProtoHopOpts = 0, kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoRouting = 43,
                  kProtoFragment = 44, kProtoEsp = 50, kProtoAh = 51, kProtoIcmp6 = 58, kProtoNone = 59,
                  kProtoDstOpts = 60, kProtoSctp = 132;

inline uint16_t be16(const uint8_t* p) noexcept { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
// The transports whose header starts with source and destination ports.
inline bool port_proto(uint8_t proto) noexcept {
  static constexpr auto kPorts = [] {
    std::array<bool, 256> t{};
    t[kProtoTcp] = t[kProtoUdp] = t[kProtoSctp] = true;
    return t;
  }();
  return kPorts[proto];
}

// The frame most traffic is: untagged Ethernet, IPv4 without options and not a fragment,
// all of it captured, carrying a TCP or UDP header that fits. Read in one go, with the
// result the general path gives (FilterParser.FastPathMatchesTheGeneralPath and the
// parser fuzz target hold it to that); false for anything else.
inline bool parse_plain_ipv4(const uint8_t* p, uint32_t caplen, ParsedHeaders& h) noexcept {
  constexpr uint32_t kL4 = kEthHeader + kIpv4MinHeader;  // 34
  static_assert(std::endian::native == std::endian::little, "the word tests below read little-endian");
  if (caplen < kL4 + 8) return false;
  // Bytes 12-14, one load: the ethertype 0x0800, version 4 and a 20-byte header (0x45);
  // bytes 20-21: no fragment offset and not MF (the 13 + 1 bits under 0x3fff).
  uint32_t type_vihl;
  uint16_t frag;
  std::memcpy(&type_vihl, p + 12, 4);
  std::memcpy(&frag, p + kEthHeader + 6, 2);
  if ((type_vihl & 0xffffff) != 0x450008 || (frag & 0xff3f) != 0) return false;
  const uint32_t total = be16(p + kEthHeader + 2), end = kEthHeader + total;
  const uint8_t proto = p[kEthHeader + 9];
  if (total < kIpv4MinHeader || end > caplen) return false;
  uint32_t hdr, l4_end = end;
  if (proto == kProtoTcp) {
    if (end < kL4 + 20) return false;
    hdr = (p[kL4 + 12] >> 4) * 4u;
    if (hdr < 20 || kL4 + hdr > end) return false;
  } else if (proto == kProtoUdp) {
    const uint32_t ulen = be16(p + kL4 + 4);
    if (end < kL4 + 8 || ulen < 8) return false;
    hdr = 8;
    if (kL4 + ulen < end) l4_end = kL4 + ulen;  // the rest is padding
  } else {
    return false;
  }
  std::memset(&h, 0, sizeof h);
  h.flags = kParsed | kIpv4 | kL4Valid;
  h.ethertype = kEthIpv4;
  h.l3_offset = kEthHeader;
  h.ip_version = 4;
  std::memcpy(h.src_ip, p + kEthHeader + 12, 4);
  std::memcpy(h.dst_ip, p + kEthHeader + 16, 4);
  h.l4_proto = proto;
  h.l4_offset = kL4;
  h.src_port = be16(p + kL4);
  h.dst_port = be16(p + kL4 + 2);
  if (proto == kProtoTcp) h.tcp_flags = p[kL4 + 13];
  h.payload_offset = static_cast<uint16_t>(kL4 + hdr);
  h.payload_len = static_cast<uint16_t>(l4_end - (kL4 + hdr));
  if (proto == kProtoTcp && h.payload_len) h.l7_info = classify_http(p + h.payload_offset, h.payload_len);
  return true;
}

// parse_headers(), inline: the fast path here, the rest a call.
inline void parse_headers_inline(const uint8_t* p, uint32_t caplen, uint16_t rx_flags, uint16_t vlan_tci,
                                 ParsedHeaders& h) noexcept {
  if (caplen > 0xffff) caplen = 0xffff;  // offsets are 16 bits; Packet::len is too
  if (!(rx_flags & kRxVlanStripped) && parse_plain_ipv4(p, caplen, h)) return;
  parse_headers_general(p, caplen, rx_flags, vlan_tci, h);
}

}  // namespace ncap::detail
