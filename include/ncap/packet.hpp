// Packet metadata. It lives in the first 128 bytes of every pool buffer (the headroom),
// so a buffer handle, the metadata and the frame travel together and mean the same in
// every process that maps the pool. Cache line 0 is written by the driver on RX; cache
// line 1 by the parser (filter/), once, and reused by rules, fan-out and apps.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ncap {

// RX descriptor facts the driver reports (Packet::rx_flags).
enum RxFlag : uint16_t {
  kRxRssHashValid = 1u << 0,
  kRxVlanStripped = 1u << 1,  // vlan_tci holds the stripped tag
  kRxL3ChecksumBad = 1u << 2,
  kRxL4ChecksumBad = 1u << 3,
  kRxFrameError = 1u << 4,  // CRC, symbol, length errors reported by the NIC
  kRxTimestampValid = 1u << 5,
};

// What the filter decided (Packet::action).
enum class Action : uint8_t { none = 0, pass = 1, drop = 2 };

// ParsedHeaders::flags
enum ParseFlag : uint16_t {
  kParsed = 1u << 0,
  kHasVlan = 1u << 1,
  kHasQinQ = 1u << 2,
  kIpv4 = 1u << 3,
  kIpv6 = 1u << 4,
  kFragment = 1u << 5,       // any IP fragment
  kFirstFragment = 1u << 6,  // offset 0 (L4 header present)
  kL4Valid = 1u << 7,        // ports/flags below are from a complete L4 header
  kTruncated = 1u << 8,      // a header claimed more bytes than were captured
  kMalformed = 1u << 9,      // bogus length, endless extension chain, ...
  kIpOptions = 1u << 10,
};

// One parse of the headers (filter/parser). Addresses are in network byte order;
// IPv4 addresses occupy the first 4 bytes of src_ip/dst_ip, the rest are zero.
// Ports and ethertype are in host byte order.
struct ParsedHeaders {
  uint16_t flags;      // ParseFlag
  uint16_t ethertype;  // after VLAN/QinQ tags
  uint16_t vlan_id;    // outer VLAN id (12 bits), 0 when untagged
  uint16_t inner_vlan_id;
  uint16_t l3_offset;  // from the start of the frame
  uint16_t l4_offset;
  uint16_t payload_offset;
  uint16_t payload_len;  // bytes of L4 payload inside the captured frame
  uint8_t ip_version;    // 0, 4 or 6
  uint8_t l4_proto;      // IPPROTO_* of the transport header (after IPv6 extensions)
  uint8_t tcp_flags;
  uint8_t icmp_type;
  uint16_t src_port;  // TCP, UDP, SCTP with kL4Valid; 0 otherwise
  uint16_t dst_port;
  uint8_t src_ip[16];
  uint8_t dst_ip[16];
  uint8_t icmp_code;
  uint8_t l7_info;  // ncap::HttpKind of a TCP payload (filter.hpp), 0 if none
  uint8_t reserved[6];
};
static_assert(sizeof(ParsedHeaders) == 64, "ParsedHeaders must fill exactly one cache line");

struct alignas(64) Packet {
  // ---- cache line 0: pool identity (set once) and RX metadata (set by the driver) ----
  uint64_t buf_iova;      // IOVA of data(); what the NIC DMAs to/from
  uint32_t handle;        // index of this buffer in its pool, valid in every process
  uint16_t pool_id;       // which pool (process-wide table, see Mempool::by_id)
  uint16_t len;           // frame length in bytes (without FCS)
  uint64_t timestamp_ns;  // RX: software or hardware timestamp; 0 when unknown
  uint32_t rss_hash;      // valid when rx_flags & kRxRssHashValid
  uint16_t vlan_tci;      // valid when rx_flags & kRxVlanStripped
  uint16_t rx_flags;      // RxFlag
  uint16_t port;          // device index of the receiving port
  uint16_t queue;         // RX queue
  uint32_t rule_id;       // rule that decided the action; 0 = default policy
  Action action;
  uint8_t refcnt_reserved;
  uint16_t user16;  // free for the application
  uint32_t user32;
  uint64_t user64;
  uint8_t pad0[8];
  // ---- cache line 1: parse result ----
  ParsedHeaders parsed;

  static constexpr size_t kMetaSize = 128;

  uint8_t* data() noexcept { return reinterpret_cast<uint8_t*>(this) + kMetaSize; }
  const uint8_t* data() const noexcept { return reinterpret_cast<const uint8_t*>(this) + kMetaSize; }
};
static_assert(sizeof(Packet) == Packet::kMetaSize, "Packet metadata is exactly the 128-byte headroom");
static_assert(offsetof(Packet, parsed) == 64, "parse result starts on the second cache line");
static_assert(alignof(Packet) == 64);

}  // namespace ncap
