#include "drivers/common/intel_queues.hpp"

#include <fmt/format.h>

#include "ncap/error.hpp"
#include "ncap/shm.hpp"

namespace ncap::intel {

bool answers(RegisterIo& io) { return io.read32(kStatusReg) != 0xffffffffu; }

void check_answers(RegisterIo& io, const std::string& address) {
  if (!answers(io))
    throw Error(address + ": the device does not answer (BAR0 reads 0xffffffff)", EIO,
                "the NIC fell off the bus or is in a low-power state: rebind it (ncap-bind) or reset the machine");
}

void check_config(const DeviceConfig& cfg, const std::string& address, const QueueLimits& lim) {
  auto check_ring = [&](uint32_t n, const char* what) {
    if (n < lim.min_ring || n > lim.max_ring || (n & (n - 1)))
      throw Error(fmt::format("{}: {} ring size {} is not supported", address, what, n), EINVAL,
                  fmt::format("use a power of two between {} and {}", lim.min_ring, lim.max_ring));
  };
  check_ring(cfg.rx_ring_size, "RX");
  check_ring(cfg.tx_ring_size, "TX");
  if (cfg.rx_queues == 0 || cfg.rx_queues > lim.max_rx || cfg.tx_queues == 0 || cfg.tx_queues > lim.max_tx)
    throw Error(
        fmt::format("{}: {} RX / {} TX queues requested", address, cfg.rx_queues, cfg.tx_queues), EINVAL,
        fmt::format("the {} supports 1-{} RX queues (RSS) and 1-{} TX queues", lim.chip, lim.max_rx, lim.max_tx));
}

RssKey rss_key(const DeviceConfig& cfg) {
  for (uint8_t b : cfg.rss_key)
    if (b != 0) return cfg.rss_key;
  return kDefaultRssKey;
}

uint32_t rss_key_word(const RssKey& key, uint32_t r) {
  return uint32_t(key[4 * r]) | uint32_t(key[4 * r + 1]) << 8 | uint32_t(key[4 * r + 2]) << 16 |
         uint32_t(key[4 * r + 3]) << 24;
}

uint32_t reta_word(uint32_t r, uint16_t queues, uint8_t shift) {
  uint32_t v = 0;
  for (uint32_t b = 0; b < 4; ++b) v |= (((4 * r + b) % queues) << shift) << (8 * b);
  return v;
}

QueueSet::~QueueSet() {
  for (auto& r : rx_) {
    backend_.dma_unmap(r->ring_memory());
    backend_.dma_unmap(r->pool().region());
  }
  for (auto& t : tx_) {
    backend_.dma_unmap(t->ring_memory());
    backend_.dma_unmap(t->pool().region());
  }
}

DmaRegion QueueSet::map_ring(uint32_t descriptors) {
  static_assert(sizeof(RxDesc) == sizeof(TxDesc));
  DmaRegion r = DmaRegion::allocate(size_t(descriptors) * sizeof(RxDesc));
  backend_.dma_map(r);
  return r;
}

DmaOptions rx_pool_options(const DeviceConfig& cfg, uint16_t q) {
  if (cfg.shared_name.empty()) return {};
  return shared_pool_options(rx_capture_name(cfg.shared_name, q, cfg.rx_queues));
}

std::unique_ptr<Mempool> QueueSet::make_pool(uint32_t buffers, const DmaOptions& dma) {
  MempoolConfig mc;
  mc.count = buffers;
  mc.dma = dma;
  auto pool = Mempool::create(mc);
  backend_.dma_map(pool->region());
  pool->refresh_iova();
  return pool;
}

RxRing& QueueSet::add_rx(const RingParams& p, DmaRegion ring, std::unique_ptr<Mempool> pool) {
  rx_.push_back(std::make_unique<RxRing>(p, std::move(ring), std::move(pool)));
  return *rx_.back();
}

TxRing& QueueSet::add_tx(const RingParams& p, DmaRegion ring, std::unique_ptr<Mempool> pool) {
  tx_.push_back(std::make_unique<TxRing>(p, std::move(ring), std::move(pool)));
  return *tx_.back();
}

RxRing& QueueSet::rx(uint16_t q, const std::string& address) {
  if (q >= rx_.size())
    throw Error(fmt::format("{}: RX queue {} does not exist", address, q), EINVAL,
                fmt::format("the device was opened with {} RX queues", rx_.size()));
  return *rx_[q];
}

TxRing& QueueSet::tx(uint16_t q, const std::string& address) {
  if (q >= tx_.size())
    throw Error(fmt::format("{}: TX queue {} does not exist", address, q), EINVAL,
                fmt::format("the device was opened with {} TX queues", tx_.size()));
  return *tx_[q];
}

}  // namespace ncap::intel
