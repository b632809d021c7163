// Setup pieces both Intel families share: checking a DeviceConfig against a chip's
// limits, whether the device answers at all, the RSS key and redirection table words, and the queue set that owns every
// ring and pool of a device (DMA-mapped through the backend, unmapped when it goes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/toeplitz.hpp"
#include "drivers/common/adv_rings.hpp"
#include "ncap/device.hpp"

namespace ncap::intel {

struct QueueLimits {
  const char* chip;
  uint16_t max_rx, max_tx;
  uint32_t min_ring, max_ring;  // descriptors, powers of two
};

// Throws ncap::Error naming the bad value and the allowed range.
void check_config(const DeviceConfig& cfg, const std::string& address, const QueueLimits& lim);

inline uint32_t lo32(uint64_t v) { return static_cast<uint32_t>(v); }
inline uint32_t hi32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

// STATUS (0x00008 in both families) reads all ones when the device is gone: it fell
// off the bus, or sits in D3 (PCIe returns all ones for a read nobody completes).
inline constexpr uint32_t kStatusReg = 0x00008;
bool answers(RegisterIo& io);
// Throws ncap::Error (EIO, naming the device and the fix) unless answers(io).
void check_answers(RegisterIo& io, const std::string& address);

// DeviceConfig::rss_key, or the default key (ncap::kDefaultRssKey) when it is all zero.
RssKey rss_key(const DeviceConfig& cfg);
// Register r of the key registers (RSSRK): key byte 4r in bits 7:0.
uint32_t rss_key_word(const RssKey& key, uint32_t r);
// Register r of a 128-entry, one-byte-per-entry RETA spreading the entries round robin
// over `queues`, each queue index shifted left by `shift` inside its byte.
uint32_t reta_word(uint32_t r, uint16_t queues, uint8_t shift = 0);

// Where RX queue q's pool lives: a shared file named after DeviceConfig::shared_name
// (rx_capture_name) so that ncap::publish can hand it to other processes, or anonymous.
DmaOptions rx_pool_options(const DeviceConfig& cfg, uint16_t q);

class QueueSet {
 public:
  explicit QueueSet(Backend& b) : backend_(b) {}
  ~QueueSet();
  QueueSet(const QueueSet&) = delete;
  QueueSet& operator=(const QueueSet&) = delete;

  DmaRegion map_ring(uint32_t descriptors);                                          // 16-byte descriptors
  std::unique_ptr<Mempool> make_pool(uint32_t buffers, const DmaOptions& dma = {});  // DMA-mapped, IOVAs refreshed
  RxRing& add_rx(const RingParams& p, DmaRegion ring, std::unique_ptr<Mempool> pool);
  TxRing& add_tx(const RingParams& p, DmaRegion ring, std::unique_ptr<Mempool> pool);

  RxRing& rx(uint16_t q, const std::string& address);  // throws for a queue not opened
  TxRing& tx(uint16_t q, const std::string& address);
  size_t rx_count() const noexcept { return rx_.size(); }
  size_t tx_count() const noexcept { return tx_.size(); }

 private:
  Backend& backend_;
  std::vector<std::unique_ptr<RxRing>> rx_;
  std::vector<std::unique_ptr<TxRing>> tx_;
};

}  // namespace ncap::intel
