// Flow metering in the poll thread and export to IPFIX / NetFlow v9 collectors
// (docs/flows.md).
//
//   poll thread: filter -> FlowMeter::dispatch -> FlowCache (per worker, fixed size,
//                8-way set-associative) -> expired records -> SPSC ring (one per worker)
//   exporter thread: FlowExporter drains every ring -> IPFIX (RFC 7011) or NetFlow v9
//                (RFC 3954) messages over UDP to each collector
//
// The poll thread never allocates, locks or blocks: the cache and its ring are sized at
// construction; a record that finds its ring full is counted (FlowCacheStats::ring_full,
// with its packets) and dropped. A full bucket evicts its least recently seen flow and
// exports it (end reason lack_of_resources): a collision never loses a packet's counts.
// Conservation, per cache: packets metered = packets of records put on the ring +
// ring_full_packets + packets of the flows still in the cache.
//
// Ownership: the FlowMeter owns the caches (and their rings); the FlowExporter borrows
// the meter, which must outlive it. Threads: worker w's poll thread calls dispatch() and
// idle() for w; the exporter thread alone takes records; flush() runs after the poll
// threads ended (Engine::join) and before the exporter stops.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "ncap/engine.hpp"
#include "ncap/packet.hpp"
#include "ncap/ring.hpp"

namespace ncap {

// What makes packets one flow. IPv4 addresses use the first 4 bytes, the rest are 0.
// ICMP and ICMPv6: sport 0, dport = type << 8 | code (as NetFlow exporters do, and as
// nfdump shows it). Protocols without ports: both 0.
struct FlowKey {
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t sport, dport;
  uint16_t vlan;  // outer VLAN id, 0 untagged
  uint8_t ip_version, proto;
  // Five 8-byte words (the key has no padding): the defaulted member-wise compare walks
  // the addresses byte by byte, ~100 instructions a lookup.
  bool operator==(const FlowKey& o) const noexcept {
    uint64_t a[5], b[5];
    std::memcpy(a, this, sizeof a);
    std::memcpy(b, &o, sizeof b);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
  }
};
static_assert(sizeof(FlowKey) == 40 && std::has_unique_object_representations_v<FlowKey>);

// flowEndReason, IANA IPFIX IE 136 (RFC 5102 5.11.3).
enum class FlowEnd : uint8_t {
  none = 0,               // still in the cache
  idle_timeout = 1,       // no packet for idle_timeout
  active_timeout = 2,     // active for active_timeout (the flow goes on in a new record)
  end_of_flow = 3,        // TCP FIN or RST
  forced = 4,             // the cache was flushed (exit, end of a trace)
  lack_of_resources = 5,  // evicted: its bucket was full when a new flow arrived
};
inline constexpr unsigned kFlowEndReasons = 6;

// With FlowCacheConfig::biflow, one record per conversation (RFC 5103): `key` is the
// direction of its first packet (the initiator), the rev_ counters count the packets
// whose key is the reverse (addresses swapped, and ports for TCP/UDP/SCTP); otherwise
// the rev_ fields stay 0. first_ns/last_ns span both directions.
struct FlowRecord {
  FlowKey key;
  uint64_t packets;
  uint64_t bytes;  // IP bytes (IPv4 total length, IPv6 payload length + 40): octetDeltaCount
  uint64_t rev_packets, rev_bytes;
  uint64_t first_ns;  // timestamps of the first and last packet, ns since the Unix epoch
  uint64_t last_ns;
  uint16_t tcp_flags;  // OR of every packet's TCP flags
  uint16_t rev_tcp_flags;
  uint8_t tos;  // of the first packet (IPv4 TOS, IPv6 traffic class)
  FlowEnd reason;
  uint16_t port, queue;  // ingress device index and RX queue
};
static_assert(sizeof(FlowRecord) == 104);

struct FlowCacheConfig {
  uint32_t entries = 4096;                           // per poll thread: a power of two, 8 .. 2^26
  uint64_t idle_timeout_ns = 15'000'000'000ull;      // Cisco's inactive timeout default
  uint64_t active_timeout_ns = 1800'000'000'000ull;  // 30 min
  uint32_t ring_size = 8192;                         // export ring, records (power of two)
  // Bidirectional records (RFC 5103): both directions of a conversation in one record.
  // The poll thread must see both: one queue, or RSS with a symmetric hash. A TCP
  // conversation ends (end_of_flow) at a RST or when both sides have sent a FIN.
  bool biflow = false;
};
inline constexpr uint32_t kFlowWays = 8;  // entries per bucket

// A Toeplitz key (DeviceConfig::rss_key) under which both directions of a conversation
// hash alike (0x6d5a repeated: Woo and Park, "Scalable TCP Session Monitoring with
// Symmetric Receive-side Scaling", 2012): with -q N, a biflow's halves meet on one queue.
inline std::array<uint8_t, 40> symmetric_rss_key() noexcept {
  std::array<uint8_t, 40> k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = i % 2 ? 0x5a : 0x6d;
  return k;
}

// Written by the worker's poll thread only (relaxed atomics), read by anyone.
struct alignas(64) FlowCacheStats {
  std::atomic<uint64_t> packets{0};  // metered (IPv4 / IPv6)
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> not_ip{0};                 // packets that are neither: not metered
  std::atomic<uint64_t> flows{0};                  // records started
  std::atomic<uint64_t> active{0};                 // flows in the cache now
  std::atomic<uint64_t> ended[kFlowEndReasons]{};  // records that left the cache, by FlowEnd
  std::atomic<uint64_t> ring_full{0};              // of those, lost: the export ring was full
  std::atomic<uint64_t> ring_full_packets{0};
};

// One poll thread's cache. meter() and expire() belong to the poll thread; take() to
// the exporter thread.
class FlowCache {
 public:
  FlowCache(const FlowCacheConfig& cfg);  // throws ncap::Error on a bad size
  ~FlowCache();
  FlowCache(const FlowCache&) = delete;
  FlowCache& operator=(const FlowCache&) = delete;

  // Meters pkts[0..n) (parses those the filter has not); `now_ns` stands in for a
  // packet without a timestamp. Then ages a slice of the cache (expire).
  void meter(Packet* const* pkts, uint32_t n, uint64_t now_ns) noexcept;
  // Ends the flows idle or active too long, sweeping the whole cache about once a
  // second (a bounded slice per call). The cache's clock is `wall_ns` shifted by how far
  // the last packet's timestamp was from the wall clock when it was metered: a trace
  // replayed from the past ages by its own time, and keeps ageing while nothing arrives.
  void expire(uint64_t wall_ns) noexcept;
  // Ends every flow (FlowEnd::forced). With `wait`, waits for ring room instead of
  // dropping (only from a thread that may block, with the exporter running).
  void flush(bool wait) noexcept;
  // ---- exporter thread ----
  uint32_t take(FlowRecord* out, uint32_t n) noexcept { return ring_.dequeue_burst(out, n); }

  const FlowCacheStats& stats() const noexcept { return stats_; }
  uint32_t entries() const noexcept { return uint32_t(recs_.size()); }
  bool biflow() const noexcept { return cfg_.biflow; }

 private:
  template <bool kBiflow>
  void meter_burst(Packet* const* pkts, uint32_t n, uint64_t now_ns) noexcept;
  void end(FlowRecord& r, uint32_t slot, FlowEnd why, bool wait = false) noexcept;
  void sweep_bucket(uint32_t b, uint64_t now) noexcept;
  void age(uint64_t now) noexcept;  // expire() in the cache's clock
  FlowCacheConfig cfg_;
  uint32_t mask_;               // buckets - 1
  std::vector<uint32_t> sigs_;  // kFlowWays per bucket; 0 = free
  std::vector<FlowRecord> recs_;
  uint32_t cursor_ = 0;    // next bucket expire() looks at
  uint64_t swept_ns_ = 0;  // time age() last advanced from
  int64_t offset_ns_ = 0;  // last packet timestamp - wall clock
  FlowCacheStats stats_;
  SpscRing<FlowRecord> ring_;
};

// A Dispatcher that meters every packet, then hands the burst to `next` (or frees it).
class FlowMeter final : public Dispatcher {
 public:
  FlowMeter(size_t workers, const FlowCacheConfig& cfg, Dispatcher* next = nullptr);
  void dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept override;
  void idle(unsigned worker) noexcept override;
  size_t workers() const noexcept { return caches_.size(); }
  FlowCache& cache(size_t w) noexcept { return *caches_[w]; }
  const FlowCache& cache(size_t w) const noexcept { return *caches_[w]; }
  // Every cache, FlowEnd::forced, waiting for ring room: after Engine::join().
  void flush() noexcept;

 private:
  std::vector<std::unique_ptr<FlowCache>> caches_;
  Dispatcher* next_;
};

// ---------------------------------------------------------------- export
enum class ExportFormat : uint8_t { ipfix, netflow9 };

struct Collector {
  ExportFormat format = ExportFormat::ipfix;
  std::string host;  // IPv4 or IPv6 address, or a name
  uint16_t port = 4739;
  std::string text;  // as given
};
// "HOST:PORT", "ipfix://HOST:PORT", "v9://HOST:PORT" ("[v6addr]:PORT"); throws ncap::Error.
Collector parse_collector(const std::string& url);

struct FlowExporterConfig {
  std::vector<Collector> collectors;
  uint32_t observation_domain = 1;                    // IPFIX observation domain / v9 source id
  uint64_t template_interval_ns = 10'000'000'000ull;  // templates resent at least this often
  uint32_t template_every = 64;                       // ... and every this many messages
  uint32_t mtu = 1400;                                // largest message (UDP payload) in bytes
  // Datagrams per second to each collector, 0 = as fast as possible. A collector reads
  // UDP through a socket buffer of a few hundred KiB: a burst of evictions sent at once
  // overflows it, and the kernel drops what does not fit (nfcapd: "Sequence Errors").
  uint32_t max_messages_per_s = 0;
};

struct FlowExportStats {
  uint64_t records = 0;  // data records sent (to each collector)
  uint64_t packets = 0;  // packets and IP bytes in them (both directions of a biflow)
  uint64_t bytes = 0;
  uint64_t messages = 0;     // UDP datagrams sent, over all collectors
  uint64_t send_errors = 0;  // datagrams the kernel refused (unreachable collector, ...)
  uint64_t by_reason[kFlowEndReasons] = {};
};

// The exporter thread: drains every cache's ring, encodes, sends.
class FlowExporter {
 public:
  FlowExporter(FlowMeter& meter, FlowExporterConfig cfg);  // opens the sockets; throws
  ~FlowExporter();
  FlowExporter(const FlowExporter&) = delete;
  FlowExporter& operator=(const FlowExporter&) = delete;
  void start();
  // Drains what is left in the rings, sends it, ends the thread.
  void stop();
  FlowExportStats stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ncap
