// The device API: ncap::open(spec, config) -> Device, with RX and TX queues.
//
// Ownership: open() returns the only owner of a Device. Queues are borrowed from their
// Device (references stay valid until it is destroyed). Each queue has one owner thread;
// nothing here locks. rx_burst/tx_burst are noexcept and return counts.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ncap/counter.hpp"
#include "ncap/mempool.hpp"
#include "ncap/packet.hpp"

namespace ncap {

using MacAddress = std::array<uint8_t, 6>;
std::string to_string(const MacAddress& mac);

// RSS hash types a driver can enable (mapped to MRQC bits by each driver).
enum RssHash : uint32_t {
  kRssIpv4 = 1u << 0,
  kRssTcpIpv4 = 1u << 1,
  kRssUdpIpv4 = 1u << 2,
  kRssIpv6 = 1u << 3,
  kRssTcpIpv6 = 1u << 4,
  kRssUdpIpv6 = 1u << 5,
  kRssAll = 0x3f,
};

struct DeviceConfig {
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
  uint32_t rx_ring_size = 512;  // descriptors; power of two
  uint32_t tx_ring_size = 512;
  uint32_t pool_size = 0;  // buffers per RX queue pool; 0 = 2 * rx_ring_size + 1024
  bool promiscuous = true;
  bool vlan_strip = false;
  bool wait_for_link = true;
  std::chrono::milliseconds link_timeout{10000};
  uint32_t rss_hash_types = kRssAll;
  // Toeplitz key; all zero = the driver's default key (documented per driver).
  std::array<uint8_t, 40> rss_key{};
  bool allow_no_iommu = false;  // VFIO no-IOMMU mode only on explicit request
  std::string shared_name;      // publish RX pools under this name (see ncap/shm.hpp)
  uint16_t port_id = 0;         // written to Packet::port
};

struct LinkStatus {
  bool up = false;
  uint32_t speed_mbps = 0;
  bool full_duplex = false;
};

struct DeviceInfo {
  std::string driver;   // "igb", "ixgbe"
  std::string chip;     // "82576"
  std::string address;  // PCI address or model name
  MacAddress mac{};
  uint16_t max_rx_queues = 0;
  uint16_t max_tx_queues = 0;
  uint16_t rx_queues = 0;
  uint16_t tx_queues = 0;
  // The network namespace the interface lives in (inode of its ns/net; the kernel:
  // backend); 0 = the namespace of the process that opened it.
  uint64_t netns_inode = 0;
};

// Counters a driver accumulates from its hardware (read-to-clear registers are summed
// on every stats() call, so nothing is lost between calls).
struct HardwareStats {
  uint64_t rx_packets = 0;        // good packets received (GPRC)
  uint64_t rx_bytes = 0;          // good octets received (GORC)
  uint64_t tx_packets = 0;        // GPTC
  uint64_t tx_bytes = 0;          // GOTC
  uint64_t rx_missed = 0;         // dropped by the NIC: no room in its FIFO (MPC)
  uint64_t rx_no_descriptor = 0;  // dropped or held: no free RX descriptor (RNBC / QPRDC)
  uint64_t rx_errors = 0;         // CRC, alignment, symbol, length errors
  // The part of rx_no_descriptor each RX queue dropped, where the chip counts per queue
  // (82599 QPRDC, 82576 RQDPC; queues 0-15). The rest of rx_no_descriptor (82598's RNBC
  // per packet buffer, the kernel backend's ring-full count) is port-wide.
  static constexpr uint16_t kStatQueues = 16;
  std::array<uint64_t, kStatQueues> rx_queue_no_descriptor{};
};

// Per-queue software counters: a snapshot (RxQueue::stats(), TxQueue::stats()).
struct QueueStats {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t pool_empty = 0;    // RX: refill found no free buffer (descriptor left empty)
  uint64_t ring_full = 0;     // TX: no free descriptor, packet not accepted
  uint64_t frame_errors = 0;  // RX: frames the NIC marked bad and we dropped
};

// The live counters behind QueueStats. Written only by the queue's owner thread, with
// ncap::detail::bump (ncap/counter.hpp: a relaxed load and store, no locked RMW); read
// by any thread (ncap-count's main thread, a status line). Relaxed: each value is
// monotonic and a reader may be one burst behind.
struct QueueCounters {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> pool_empty{0};
  std::atomic<uint64_t> ring_full{0};
  std::atomic<uint64_t> frame_errors{0};
  QueueStats snapshot() const noexcept {
    constexpr auto r = std::memory_order_relaxed;
    return {packets.load(r), bytes.load(r), pool_empty.load(r), ring_full.load(r), frame_errors.load(r)};
  }
};

class RxQueue {
 public:
  virtual ~RxQueue() = default;
  // Receives up to n packets. The caller owns them and frees them to pool().
  virtual uint32_t rx_burst(Packet** out, uint32_t n) noexcept = 0;
  virtual Mempool& pool() noexcept = 0;
  // Called by a poll thread after rx_burst found nothing: a queue that the kernel fills
  // (a socket) sleeps up to timeout_ms until frames may be there, so an idle capture
  // costs no CPU. A NIC queue returns at once (polling is its point).
  virtual void wait(int /*timeout_ms*/) noexcept {}
  // True once the queue will never receive again (a trace file read to its end); the
  // engine's poll thread then ends.
  virtual bool exhausted() const noexcept { return false; }
  uint16_t id() const noexcept { return id_; }
  // From any thread.
  QueueStats stats() const noexcept { return counters_.snapshot(); }

 protected:
  explicit RxQueue(uint16_t id) : id_(id) {}
  uint16_t id_;
  QueueCounters counters_;
};

class TxQueue {
 public:
  virtual ~TxQueue() = default;
  // Queues up to n packets for transmission and takes ownership of those it accepted
  // (they go back to their pool once the NIC is done). Returns how many were accepted;
  // the caller still owns the rest.
  virtual uint32_t tx_burst(Packet** in, uint32_t n) noexcept = 0;
  // Reaps completions; returns the number of descriptors still in flight.
  virtual uint32_t tx_flush() noexcept = 0;
  virtual Mempool& pool() noexcept = 0;  // where to allocate frames for this queue
  uint16_t id() const noexcept { return id_; }
  // From any thread.
  QueueStats stats() const noexcept { return counters_.snapshot(); }

 protected:
  explicit TxQueue(uint16_t id) : id_(id) {}
  uint16_t id_;
  QueueCounters counters_;
};

// Hardware filter rules a driver may take over (see filter/). The software engine asks
// the device which ones it accepted; the rest run in software with the same result.
struct HwFilterCaps {
  bool ethertype = false;
  bool five_tuple = false;
  bool syn = false;
  uint16_t max_five_tuple = 0;
  uint16_t max_ethertype = 0;
};

// A rule offered to the hardware (see Device::offload and docs/filtering.md). The filter
// offers only rules whose hardware execution cannot change the result: drop rules that
// would decide before any other rule does. Addresses and ports in host byte order; a
// zero mask means "any" for that field (82599 FTQF masks whole fields, not prefixes).
struct HwRule {
  enum class Kind : uint8_t {
    ethertype,   // 82599 ETQF, 82576 ETQF: match the ethertype
    five_tuple,  // 82599 FTQF: protocol, IPv4 addresses, ports (each field exact or any)
    syn,         // 82599 SYNQF: TCP SYN only (steers to a queue; cannot drop)
  };
  uint32_t rule_id = 0;
  Kind kind = Kind::ethertype;
  uint16_t ethertype = 0;
  uint8_t proto = 0;  // five_tuple: IPPROTO_*, 0 = any
  uint32_t src_ip = 0, dst_ip = 0;
  bool src_ip_any = true, dst_ip_any = true;
  uint16_t src_port = 0, dst_port = 0;
  bool src_port_any = true, dst_port_any = true;
  uint8_t priority = 0;  // 0 = highest; the filter gives rule-id order
  bool drop = true;      // the only action offered today
};

class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const noexcept = 0;
  virtual LinkStatus link() = 0;
  virtual RxQueue& rx(uint16_t q) = 0;
  virtual TxQueue& tx(uint16_t q) = 0;
  // Reads and accumulates hardware counters. Call from one thread (not the fast path).
  virtual HardwareStats stats() = 0;
  virtual HwFilterCaps hw_filter_caps() const noexcept { return {}; }
  // Replaces the set of rules executed by the chip with a subset of `rules` and returns
  // the ids it took (each one programmed, all or nothing per rule). An empty vector
  // removes every hardware rule. Call from the control thread; the default takes none.
  // Rules not taken keep running in software; the filter evaluates every rule in
  // software anyway, so a taken rule only means its packets never reach the host.
  virtual std::vector<uint32_t> offload(const std::vector<HwRule>& /*rules*/) { return {}; }
  // A fault found while running that ended reception early (a trace file that turned
  // out truncated); empty when there is none. Tools report it and exit non-zero.
  virtual std::string error() const { return {}; }
  // Stops RX and TX DMA and resets the chip. Idempotent; the destructor calls it too.
  virtual void stop() = 0;
};

// Opens a device. Specs: a PCI address ("0000:03:00.0" or "03:00.0"), "model:82599"
// (register-level models, when built), or a prefix a driver registered.
std::unique_ptr<Device> open(std::string_view spec, const DeviceConfig& config = {});

// Names of the specs open() understands (for --help and error messages).
std::vector<std::string> known_specs();

// A device some running ncap process has open (ncap-stat): counters as of that process's
// last Device::stats() call. Records of processes killed before closing are removed.
struct OpenDeviceInfo {
  std::string spec, driver, chip, path;
  int32_t pid = 0;
  bool alive = true;
  uint16_t rx_queues = 0, tx_queues = 0;
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  uint64_t pool_empty = 0, frame_errors = 0, tx_ring_full = 0, hw_missed = 0, hw_no_descriptor = 0;
};
// The devices open in network namespace `netns_inode` (0 = this process's).
std::vector<OpenDeviceInfo> list_open_devices(uint64_t netns_inode = 0);

}  // namespace ncap
