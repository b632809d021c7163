// The models' IOMMU: one per process, like the VFIO container every real device shares
// (core/vfio.hpp). dma_map gives a region an IOVA that differs from its virtual address
// (so a driver that writes a pointer instead of an IOVA into a descriptor is caught) and
// records it; the model translates every DMA address through it and reports an access
// outside mapped memory as a violation instead of touching it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "ncap/dma.hpp"

namespace ncap::model {

class Iommu {
 public:
  static Iommu& instance();

  void map(DmaRegion& r);
  void unmap(DmaRegion& r) noexcept;

  // Host address of [iova, iova+len) when all of it lies in one mapped region, else
  // nullptr. Lock-free: mappings are append-only slots (setup path), lookups are on the
  // models' data path.
  uint8_t* translate(uint64_t iova, size_t len) const noexcept;

 private:
  static constexpr size_t kMaxMappings = 4096;
  static constexpr uint64_t kFirstIova = 0x40'0000'0000ull;  // far from user addresses
  struct Mapping {
    std::atomic<uint8_t*> host{nullptr};  // nullptr: unmapped
    uint64_t iova = 0;
    size_t size = 0;
    uint32_t refs = 0;
  };
  std::mutex mu_;
  Mapping maps_[kMaxMappings];
  std::atomic<size_t> used_{0};
  uint64_t next_iova_ = kFirstIova;
};

}  // namespace ncap::model
