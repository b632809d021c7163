// The Intel fast path, shared by the igb and ixgbe families: advanced RX and TX
// descriptor rings (formats in adv_desc.hpp). A family supplies its tail registers and
// its RX error bits (RingParams); everything else is the same idea, so one piece of code.
//
// RX: rx_burst walks descriptors while DD is set, hands out their buffers, and refills
// the consumed slots in batches from a per-queue mempool cache with ONE tail write per
// refill. TX: tx_burst reaps completed bursts first (RS is set on the last descriptor
// of each burst, so the NIC writes back one DD per burst), writes one data descriptor
// per packet and ONE tail write per burst. Nothing here allocates, locks, throws or logs.
//
// Ring invariant (both directions): `tail_` is the value last written to the tail
// register; the NIC owns [head, tail_). One slot always stays unowned so that
// head == tail means "empty" (datasheet 8.2.3.8.5: "RDT = RDH: no descriptors").
#pragma once

#include <cstdint>
#include <memory>

#include "core/mmio.hpp"
#include "drivers/common/adv_desc.hpp"
#include "ncap/device.hpp"
#include "ncap/dma.hpp"
#include "ncap/mempool.hpp"

namespace ncap::intel {

struct RingParams {
  RegisterIo* io;
  uint32_t tail_reg;  // RDT(q) / TDT(q)
  uint32_t size;      // descriptors, power of two
  uint16_t queue;
  uint16_t port;
  uint32_t rx_error_mask;  // write-back error bits that mean "bad frame"
};

class RxRing final : public RxQueue {
 public:
  static constexpr uint32_t kRefillBatch = 32;

  RxRing(const RingParams& p, DmaRegion ring, std::unique_ptr<Mempool> pool);
  ~RxRing() override;
  // Gives every slot but one a buffer and returns the tail to write once the queue is
  // enabled (the caller writes it: queue start order is the chip's business).
  uint32_t fill() noexcept;

  uint32_t rx_burst(Packet** out, uint32_t n) noexcept override;
  Mempool& pool() noexcept override { return *pool_; }
  DmaRegion& ring_memory() noexcept { return ring_; }

 private:
  void refill() noexcept;

  RegisterIo* io_;
  uint32_t tail_reg_;
  uint32_t mask_;
  uint32_t next_ = 0;  // next descriptor to check for DD
  uint32_t tail_ = 0;
  uint32_t error_mask_;
  uint16_t port_;
  RxDesc* desc_;
  std::unique_ptr<Packet*[]> bufs_;
  DmaRegion ring_;
  std::unique_ptr<Mempool> pool_;
  Mempool::Cache cache_;
};

class TxRing final : public TxQueue {
 public:
  TxRing(const RingParams& p, DmaRegion ring, std::unique_ptr<Mempool> pool);
  ~TxRing() override;

  uint32_t tx_burst(Packet** in, uint32_t n) noexcept override;
  uint32_t tx_flush() noexcept override;
  Mempool& pool() noexcept override { return *pool_; }
  DmaRegion& ring_memory() noexcept { return ring_; }
  uint32_t in_flight() const noexcept { return (tail_ - clean_) & mask_; }

 private:
  uint32_t reap() noexcept;
  void free_range(uint32_t from, uint32_t n) noexcept;

  RegisterIo* io_;
  uint32_t tail_reg_;
  uint32_t mask_;
  uint32_t tail_ = 0;   // next descriptor to write
  uint32_t clean_ = 0;  // oldest descriptor not yet reaped
  TxDesc* desc_;
  std::unique_ptr<Packet*[]> bufs_;
  // Positions of the descriptors carrying RS (last of each burst), oldest first.
  std::unique_ptr<uint32_t[]> rs_;
  uint32_t rs_head_ = 0, rs_tail_ = 0;
  DmaRegion ring_;
  std::unique_ptr<Mempool> pool_;
  Mempool::Cache cache_;
};

}  // namespace ncap::intel
