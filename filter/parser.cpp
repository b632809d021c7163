// One pass over the headers of a captured frame into ParsedHeaders (cache line 1 of the
// packet metadata). Every read is checked against the captured length; a header that
// claims more than was captured sets kTruncated, an impossible one sets kMalformed, and
// parsing stops there with what was learned so far.
#include <cstring>

#include "filter/parser.hpp"
#include "ncap/filter.hpp"

namespace ncap {
using namespace detail;  // the header constants (parser.hpp)
namespace {

// Inlined: the common frame is parsed by one function without calls.
[[gnu::always_inline]] inline void parse_l4(const uint8_t* p, uint32_t off, uint32_t end, uint8_t proto,
                                            ParsedHeaders& h) noexcept {
  h.l4_proto = proto;
  h.l4_offset = static_cast<uint16_t>(off);
  uint32_t hdr = 0;  // bytes of L4 header before the payload
  switch (proto) {
    case kProtoTcp: {
      if (off + 20 > end) {
        h.flags |= kTruncated;
        return;
      }
      uint32_t doff = (p[off + 12] >> 4) * 4u;
      if (doff < 20) {
        h.flags |= kMalformed;
        return;
      }
      if (off + doff > end) {
        h.flags |= kTruncated;
        return;
      }
      h.src_port = be16(p + off);
      h.dst_port = be16(p + off + 2);
      h.tcp_flags = p[off + 13];
      hdr = doff;
      break;
    }
    case kProtoUdp: {
      if (off + 8 > end) {
        h.flags |= kTruncated;
        return;
      }
      uint32_t ulen = be16(p + off + 4);
      if (ulen < 8) {
        h.flags |= kMalformed;
        return;
      }
      h.src_port = be16(p + off);
      h.dst_port = be16(p + off + 2);
      if (off + ulen < end) end = off + ulen;  // the rest is padding
      hdr = 8;
      break;
    }
    case kProtoSctp:
      if (off + 12 > end) {
        h.flags |= kTruncated;
        return;
      }
      h.src_port = be16(p + off);
      h.dst_port = be16(p + off + 2);
      hdr = 12;
      break;
    case kProtoIcmp:
    case kProtoIcmp6:
      // type, code, checksum, then 4 bytes of type-specific rest-of-header
      if (off + 8 > end) {
        h.flags |= kTruncated;
        return;
      }
      h.icmp_type = p[off];
      h.icmp_code = p[off + 1];
      hdr = 8;
      break;
    default:
      hdr = 0;  // unknown transport: its bytes are the payload
      h.payload_offset = static_cast<uint16_t>(off);
      h.payload_len = static_cast<uint16_t>(end - off);
      return;
  }
  h.flags |= kL4Valid;
  h.payload_offset = static_cast<uint16_t>(off + hdr);
  h.payload_len = static_cast<uint16_t>(end - (off + hdr));
  if (proto == kProtoTcp && h.payload_len) h.l7_info = classify_http(p + h.payload_offset, h.payload_len);
}

[[gnu::always_inline]] inline void parse_ipv4(const uint8_t* p, uint32_t off, uint32_t caplen,
                                              ParsedHeaders& h) noexcept {
  if (off + kIpv4MinHeader > caplen) {
    h.flags |= kTruncated;
    return;
  }
  if ((p[off] >> 4) != 4) {
    h.flags |= kMalformed;
    return;
  }
  uint32_t ihl = (p[off] & 0xf) * 4u;
  uint32_t total = be16(p + off + 2);
  if (ihl < kIpv4MinHeader || total < ihl) {
    h.flags |= kMalformed;
    return;
  }
  if (off + ihl > caplen) {
    h.flags |= kTruncated;
    return;
  }
  h.flags |= kIpv4;
  h.ip_version = 4;
  if (ihl > kIpv4MinHeader) h.flags |= kIpOptions;
  std::memcpy(h.src_ip, p + off + 12, 4);
  std::memcpy(h.dst_ip, p + off + 16, 4);
  uint8_t proto = p[off + 9];
  h.l4_proto = proto;
  uint32_t end = off + total;
  if (end > caplen) {  // snapped: parse what is there
    h.flags |= kTruncated;
    end = caplen;
  }
  uint16_t frag = be16(p + off + 6);
  uint16_t frag_offset = frag & 0x1fff;  // in 8-byte units
  bool more_fragments = (frag & 0x2000) != 0;
  if (frag_offset || more_fragments) {
    h.flags |= kFragment;
    if (frag_offset) {  // no transport header in this fragment
      h.payload_offset = static_cast<uint16_t>(off + ihl);
      h.payload_len = static_cast<uint16_t>(end - (off + ihl));
      return;
    }
    h.flags |= kFirstFragment;
  }
  parse_l4(p, off + ihl, end, proto, h);
}

void parse_ipv6(const uint8_t* p, uint32_t off, uint32_t caplen, ParsedHeaders& h) noexcept {
  if (off + kIpv6Header > caplen) {
    h.flags |= kTruncated;
    return;
  }
  if ((p[off] >> 4) != 6) {
    h.flags |= kMalformed;
    return;
  }
  h.flags |= kIpv6;
  h.ip_version = 6;
  std::memcpy(h.src_ip, p + off + 8, 16);
  std::memcpy(h.dst_ip, p + off + 24, 16);
  uint32_t plen = be16(p + off + 4);
  uint32_t end = off + kIpv6Header + plen;
  if (plen == 0) end = caplen;  // jumbogram (hop-by-hop option) or empty: use what we have
  if (end > caplen) {
    h.flags |= kTruncated;
    end = caplen;
  }
  uint8_t next = p[off + 6];
  uint32_t cur = off + kIpv6Header;
  for (unsigned i = 0;; ++i) {
    uint32_t len;
    switch (next) {
      case kProtoHopOpts:
      case kProtoRouting:
      case kProtoDstOpts:
        if (cur + 2 > end) {
          h.l4_proto = next;
          h.flags |= kTruncated;
          return;
        }
        len = (p[cur + 1] + 1u) * 8u;
        break;
      case kProtoAh:
        if (cur + 2 > end) {
          h.l4_proto = next;
          h.flags |= kTruncated;
          return;
        }
        len = (p[cur + 1] + 2u) * 4u;
        break;
      case kProtoFragment: {
        if (cur + 8 > end) {
          h.l4_proto = next;
          h.flags |= kTruncated;
          return;
        }
        uint16_t fo = be16(p + cur + 2);
        h.flags |= kFragment;
        if ((fo >> 3) != 0) {  // not the first fragment: no transport header
          h.l4_proto = p[cur];
          h.payload_offset = static_cast<uint16_t>(cur + 8);
          h.payload_len = static_cast<uint16_t>(end - (cur + 8));
          return;
        }
        h.flags |= kFirstFragment;
        len = 8;
        break;
      }
      case kProtoEsp:
      case kProtoNone:
        h.l4_proto = next;  // encrypted or nothing: no transport header to read
        h.payload_offset = static_cast<uint16_t>(cur);
        h.payload_len = static_cast<uint16_t>(end - cur);
        return;
      default: parse_l4(p, cur, end, next, h); return;
    }
    if (i >= kMaxIpv6Ext) {
      h.l4_proto = next;
      h.flags |= kMalformed;
      return;
    }
    if (cur + len > end) {
      h.l4_proto = next;
      h.flags |= kTruncated;
      return;
    }
    next = p[cur];
    cur += len;
  }
}

}  // namespace

uint8_t classify_http(const uint8_t* s, uint32_t n) noexcept {
  // The seed's HTTP plugin compares the start of the payload with each method.
  if (n == 0) return kHttpNone;
  auto starts = [&](const char* m, uint32_t len) { return n >= len && std::memcmp(s, m, len) == 0; };
  switch (s[0]) {
    case 'G':
      if (starts("GET ", 4)) return kHttpGet;
      break;
    case 'P':
      if (starts("POST ", 5)) return kHttpPost;
      if (starts("PUT ", 4)) return kHttpPut;
      if (starts("PATCH ", 6)) return kHttpPatch;
      break;
    case 'H':
      if (starts("HEAD ", 5)) return kHttpHead;
      if (starts("HTTP/", 5)) return kHttpResponse;
      break;
    case 'D':
      if (starts("DELETE ", 7)) return kHttpDelete;
      break;
    case 'O':
      if (starts("OPTIONS ", 8)) return kHttpOptions;
      break;
    case 'T':
      if (starts("TRACE ", 6)) return kHttpTrace;
      break;
    case 'C':
      if (starts("CONNECT ", 8)) return kHttpConnect;
      break;
    default: break;
  }
  return kHttpOther;
}

void parse_headers(const uint8_t* p, uint32_t caplen, uint16_t rx_flags, uint16_t vlan_tci, ParsedHeaders& h) noexcept {
  detail::parse_headers_inline(p, caplen, rx_flags, vlan_tci, h);
}

void detail::parse_headers_general(const uint8_t* p, uint32_t caplen, uint16_t rx_flags, uint16_t vlan_tci,
                                   ParsedHeaders& h) noexcept {
  std::memset(&h, 0, sizeof h);
  h.flags = kParsed;
  if (rx_flags & kRxVlanStripped) {
    h.vlan_id = vlan_tci & 0x0fff;
    h.flags |= kHasVlan;
  }
  if (caplen > 0xffff) caplen = 0xffff;  // offsets are 16 bits; Packet::len is too
  if (caplen < kEthHeader) {
    h.flags |= kTruncated;
    return;
  }
  uint16_t et = be16(p + 12);
  uint32_t off = kEthHeader;
  for (unsigned tags = 0; et == kEthVlan || et == kEthQinQ || et == kEthQinQOld; ++tags) {
    if (tags == kMaxTags) break;  // a third tag: report it as the ethertype, go no deeper
    if (off + kVlanTag > caplen) {
      h.ethertype = et;
      h.flags |= kTruncated;
      return;
    }
    uint16_t vid = be16(p + off) & 0x0fff;
    if (!(h.flags & kHasVlan)) {
      h.vlan_id = vid;
      h.flags |= kHasVlan;
    } else if (!(h.flags & kHasQinQ)) {
      h.inner_vlan_id = vid;
      h.flags |= kHasQinQ;
    }
    et = be16(p + off + 2);
    off += kVlanTag;
  }
  h.ethertype = et;
  h.l3_offset = static_cast<uint16_t>(off);
  if (et == kEthIpv4) parse_ipv4(p, off, caplen, h);
  else if (et == kEthIpv6) parse_ipv6(p, off, caplen, h);
}

}  // namespace ncap
