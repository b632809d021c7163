#include "tests/model/chips/iommu.hpp"

#include "ncap/error.hpp"

namespace ncap::model {

Iommu& Iommu::instance() {
  static Iommu iommu;
  return iommu;
}

void Iommu::map(DmaRegion& r) {
  std::lock_guard lock(mu_);
  size_t n = used_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    if (maps_[i].host.load(std::memory_order_relaxed) == r.addr() && maps_[i].size == r.size()) {
      ++maps_[i].refs;
      r.set_iova(maps_[i].iova);
      return;
    }
  }
  if (n == kMaxMappings)
    throw Error("model IOMMU: map a DMA region", ENOSPC, "more than 4096 DMA regions in one process");
  // Aligned like a real IOVA allocator so page-offset bits survive translation.
  uint64_t align = r.page_size();
  uint64_t iova = (next_iova_ + align - 1) / align * align;
  next_iova_ = iova + r.size();
  Mapping& m = maps_[n];
  m.iova = iova;
  m.size = r.size();
  m.refs = 1;
  m.host.store(r.addr(), std::memory_order_release);
  used_.store(n + 1, std::memory_order_release);  // pairs with the acquire in translate()
  r.set_iova(iova);
}

void Iommu::unmap(DmaRegion& r) noexcept {
  std::lock_guard lock(mu_);
  size_t n = used_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    if (maps_[i].host.load(std::memory_order_relaxed) == r.addr() && maps_[i].iova == r.iova()) {
      if (--maps_[i].refs == 0) {
        maps_[i].host.store(nullptr, std::memory_order_release);
        r.clear_iova();
      }
      return;
    }
  }
}

uint8_t* Iommu::translate(uint64_t iova, size_t len) const noexcept {
  size_t n = used_.load(std::memory_order_acquire);
  for (size_t i = n; i-- > 0;) {
    const Mapping& m = maps_[i];
    if (iova >= m.iova && iova - m.iova < m.size) {
      uint8_t* host = m.host.load(std::memory_order_acquire);
      if (!host || iova - m.iova + len > m.size) return nullptr;
      return host + (iova - m.iova);
    }
  }
  return nullptr;
}

}  // namespace ncap::model
