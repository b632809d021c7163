// IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) messages of flow records. One template per
// IP version, the same fields in both formats (information element numbers from the
// IANA IPFIX registry, RFC 7012; NetFlow v9 field types share them):
//   octetDeltaCount 1 (8) packetDeltaCount 2 (8) flowStartMilliseconds 152 (8)
//   flowEndMilliseconds 153 (8) sourceIPv4Address 8 / sourceIPv6Address 27 (4 / 16)
//   destinationIPv4Address 12 / destinationIPv6Address 28 (4 / 16) ingressInterface 10 (4)
//   sourceTransportPort 7 (2) destinationTransportPort 11 (2) vlanId 58 (2)
//   tcpControlBits 6 (2, RFC 7125) protocolIdentifier 4 (1) ipClassOfService 5 (1)
//   flowEndReason 136 (1)
// Records: 55 bytes (IPv4), 79 bytes (IPv6), in that order, network byte order.
// Biflow records (RFC 5103, IPFIX only) add the reverse information elements, enterprise
// number 29305 (RFC 5103 6.1): reverseOctetDeltaCount 1 (8), reversePacketDeltaCount 2
// (8), under templates 258 / 259: 71 and 95 bytes. Not reverseTcpControlBits: nfdump
// 1.7.1 maps the two reverse counters to out_bytes / out_packets but reads any other
// reverse element as its forward one (the responder's flags replaced tcp_flags).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ncap/flow.hpp"

namespace ncap::flow {

inline constexpr uint16_t kTemplateIpv4 = 256, kTemplateIpv6 = 257;  // the first data set ids (RFC 7011 3.4.1)
inline constexpr uint16_t kTemplateBiflowIpv4 = 258, kTemplateBiflowIpv6 = 259;
inline constexpr size_t kRecordBytesIpv4 = 55, kRecordBytesIpv6 = 79;
inline constexpr size_t kReverseBytes = 16;
inline constexpr uint32_t kReversePen = 29305;  // RFC 5103 6.1

// Builds one message at a time into its own buffer: begin(), add() until it says full,
// finish(). Sequence numbers: IPFIX counts data records sent before the message (RFC
// 7011 3.1), v9 counts export packets (RFC 3954 5.1).
class MessageEncoder {
 public:
  // `biflow`: IPFIX only (NetFlow v9, RFC 3954, has no enterprise-specific fields).
  MessageEncoder(ExportFormat format, uint32_t domain, size_t max_bytes, bool biflow = false);
  // Starts a message; `with_templates` puts the template set first.
  void begin(uint32_t export_secs, uint32_t uptime_ms, bool with_templates);
  // Appends a record; false (nothing appended) when it does not fit.
  bool add(const FlowRecord& r);
  size_t records() const noexcept { return records_; }
  // Closes the open data set, fills in the header's length (and v9's count).
  const std::vector<uint8_t>& finish();

 private:
  void put8(uint8_t v) { buf_.push_back(v); }
  void put16(uint16_t v);
  void put32(uint32_t v);
  void put64(uint64_t v);
  void close_set();
  void templates();
  uint16_t template_id(bool v6) const noexcept {
    return biflow_ ? (v6 ? kTemplateBiflowIpv6 : kTemplateBiflowIpv4) : (v6 ? kTemplateIpv6 : kTemplateIpv4);
  }
  ExportFormat format_;
  bool biflow_;
  uint32_t domain_;
  size_t max_;
  std::vector<uint8_t> buf_;
  size_t set_start_ = 0;  // offset of the open data set's header; 0 = none
  uint16_t set_id_ = 0;
  size_t records_ = 0;      // in this message (data records; v9 count adds templates)
  size_t count_extra_ = 0;  // v9: template records in this message
  uint64_t sequence_ = 0;
};

}  // namespace ncap::flow
