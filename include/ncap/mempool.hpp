// Fixed-size packet buffers in DMA memory, named by 32-bit handles.
//
// Layout of a pool's region: a PoolHeader (one 4 KiB block, self-describing so another
// process can attach), then `slots` buffers of `stride` bytes each:
//   [Packet metadata, 128 B][data room, data_room bytes][pad to 64 B]
// A handle is a buffer index: the same number in every process that maps the pool.
// A slot whose data room would cross a page boundary of the region is never handed out
// (so `count` usable buffers take a few more slots): a NIC reads a TX buffer through one
// IOMMU translation, and without an IOMMU two pages need not be physically adjacent.
// QEMU's igb model (hw/net/net_tx_pkt.c, net_tx_pkt_add_raw_fragment_pci) maps each TX
// fragment whole and silently skips the frame when the mapping comes back short.
//
// Free buffers sit in a lock-free multi-producer/multi-consumer ring (MpmcRing); a thread that
// allocates or frees a lot keeps a Mempool::Cache so it touches the shared ring only once
// per bulk. Buffers are never freed twice by the pool itself: ownership is the caller's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "ncap/dma.hpp"
#include "ncap/packet.hpp"
#include "ncap/ring.hpp"

namespace ncap {

struct PoolHeader {
  static constexpr uint64_t kMagic = 0x4c4f4f5050414e43ull;  // "NCAPPOOL"
  uint64_t magic;
  uint32_t version;
  uint32_t count;
  uint32_t stride;
  uint32_t data_room;
  uint64_t first_buffer_offset;
  uint64_t region_size;
  uint32_t slots;  // handles 0..slots-1 address buffers; `count` of them circulate
  uint32_t reserved;
};

struct MempoolConfig {
  uint32_t count = 4096;      // number of buffers
  uint32_t data_room = 2048;  // bytes for a frame (the RX buffer size given to the NIC)
  DmaOptions dma;             // shared name, page preferences
};

class Mempool {
 public:
  static constexpr size_t kHeaderBytes = 4096;
  static constexpr uint32_t kInvalidHandle = 0xffffffffu;

  static std::unique_ptr<Mempool> create(const MempoolConfig& cfg);
  ~Mempool();
  Mempool(const Mempool&) = delete;
  Mempool& operator=(const Mempool&) = delete;

  // Pools are numbered process-wide so a Packet can name its pool (Packet::pool_id).
  static Mempool* by_id(uint16_t id) noexcept;
  uint16_t id() const noexcept { return id_; }

  uint32_t count() const noexcept { return count_; }  // usable buffers
  uint32_t slots() const noexcept { return slots_; }  // handle range (count + skipped slots)
  uint32_t stride() const noexcept { return stride_; }
  uint32_t data_room() const noexcept { return data_room_; }
  DmaRegion& region() noexcept { return region_; }

  Packet* packet(uint32_t handle) const noexcept {
    return reinterpret_cast<Packet*>(buffers_ + static_cast<size_t>(handle) * stride_);
  }
  bool owns(const Packet* p) const noexcept;

  // After the region got an IOVA (a device mapped it), writes every buffer's buf_iova.
  void refresh_iova() noexcept;

  // All or nothing: returns n, or 0 when fewer than n buffers are free.
  uint32_t alloc_bulk(Packet** out, uint32_t n) noexcept;
  // Up to n: returns how many were allocated.
  uint32_t alloc_burst(Packet** out, uint32_t n) noexcept;
  void free_bulk(Packet* const* pkts, uint32_t n) noexcept;
  void free_handles(const uint32_t* handles, uint32_t n) noexcept;
  uint32_t available() const noexcept;  // approximate while other threads run

  // Per-thread front of the shared free ring. Not thread safe: one owner.
  class Cache {
   public:
    static constexpr uint32_t kSize = 512;
    explicit Cache(Mempool& pool) noexcept : pool_(pool) {}
    ~Cache() { flush(); }
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;
    uint32_t alloc_bulk(Packet** out, uint32_t n) noexcept;   // n or 0
    uint32_t alloc_burst(Packet** out, uint32_t n) noexcept;  // up to n
    void free_bulk(Packet* const* pkts, uint32_t n) noexcept;
    void flush() noexcept;  // give every cached buffer back to the pool
    Mempool& pool() const noexcept { return pool_; }

   private:
    Mempool& pool_;
    uint32_t n_ = 0;
    uint32_t handles_[kSize];
  };

 private:
  Mempool() = default;
  // The shared free ring of handles (MpmcRing, ncap/ring.hpp). Its capacity exceeds
  // `count`, so a free always has room (at most `count` handles exist).
  uint32_t ring_dequeue(uint32_t* h, uint32_t n, bool all_or_nothing) noexcept {
    return all_or_nothing ? (free_->dequeue_bulk(h, n) ? n : 0) : free_->dequeue_burst(h, n);
  }
  void ring_enqueue(const uint32_t* h, uint32_t n) noexcept { free_->enqueue_bulk(h, n); }

  DmaRegion region_;
  uint8_t* buffers_ = nullptr;
  uint32_t count_ = 0;
  uint32_t slots_ = 0;
  uint32_t stride_ = 0;
  uint32_t data_room_ = 0;
  uint16_t id_ = 0;

  std::unique_ptr<MpmcRing<uint32_t>> free_;
};

// Frees packets of any pools (Packet::pool_id), each run of one pool in one call.
void free_packets(Packet* const* pkts, uint32_t n) noexcept;

}  // namespace ncap
