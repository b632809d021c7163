// Statistics counters of the fast path: each has one writer thread (its poll thread)
// and any number of readers, so an add is a relaxed load and store, no locked RMW.
#pragma once

#include <atomic>
#include <cstdint>

namespace ncap::detail {

inline void bump(std::atomic<uint64_t>& c, uint64_t n) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace ncap::detail
